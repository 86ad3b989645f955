"""A wrong key password is an error on every build that signs, even one with nothing to
rebuild: only opening the key tells whether the password still opens it."""

from __future__ import annotations


def test_wrong_password_fails_a_null_build(fw, tmp_path, keys, monkeypatch):
    project = fw.copy_project(fw.EXAMPLE, tmp_path / "project")
    key = keys.write(tmp_path / "locked.pem", keys.generate("ecdsa-p256"), password=b"right")
    monkeypatch.setenv("FWBUILD_SIGNING_KEY_PASSWORD", "right")
    first = fw.run_scons(project, "K64F", f"sign_key={key}")
    assert first.returncode == 0, first.describe()
    again = fw.run_scons(project, "K64F", f"sign_key={key}")
    assert again.returncode == 0 and not again.steps, again.describe()
    monkeypatch.setenv("FWBUILD_SIGNING_KEY_PASSWORD", "wrong")
    wrong = fw.run_scons(project, "K64F", f"sign_key={key}")
    assert wrong.returncode == 2, wrong.describe()
    assert "error:" in wrong.stderr and "password" in wrong.stderr and "Traceback" not in wrong.output
