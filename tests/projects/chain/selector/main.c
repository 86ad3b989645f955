/* selector: finds its own slot through the linker symbols fwbuild defines for each link. */
#include <stdint.h>

extern const char __fwbuild_slot_start[];
extern const char __fwbuild_slot_index[];

volatile uintptr_t selector_slot_start;
volatile uintptr_t selector_slot_index;

int main(void)
{
    selector_slot_start = (uintptr_t)__fwbuild_slot_start;
    selector_slot_index = (uintptr_t)__fwbuild_slot_index;
    for (;;) {
    }
}
