/* boot_at_zero: print "boot_at_zero <version>" over ARM semihosting and exit with status 0. */
#include <stdint.h>

#ifndef FW_VERSION
#error "the build passes FW_VERSION (from fwbuild.json) as a string macro"
#endif

#define SYS_WRITE0 0x04
#define SYS_EXIT_EXTENDED 0x20
#define ADP_STOPPED_APPLICATION_EXIT 0x20026

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void semihost_exit(uint32_t status)
{
    const uint32_t block[2] = {ADP_STOPPED_APPLICATION_EXIT, status};
    (void)semihost(SYS_EXIT_EXTENDED, block);
}

/* Checked at run time: the start-up code copied .data and cleared .bss. */
static volatile uint32_t initialised = 0x600DF00Du;
static volatile uint32_t zeroed;

int main(void)
{
    if (initialised != 0x600DF00Du || zeroed != 0u) {
        (void)semihost(SYS_WRITE0, "boot_at_zero: .data/.bss not initialised\n");
        semihost_exit(3);
    }
    (void)semihost(SYS_WRITE0, "boot_at_zero " FW_VERSION "\n");
    semihost_exit(0);
    return 0;
}
