/*
 * boot_at_zero: the smallest start-up that boots on QEMU's mps2-an385 from address 0.
 * The vector table comes first (section .isr_vector); the linker script provides
 * __StackTop, _sidata, _sdata, _edata, _sbss and _ebss.
 */
#include <stdint.h>

#ifndef FWBUILD_VECTOR_COUNT
#error "the build passes FWBUILD_VECTOR_COUNT"
#endif

typedef void (*vector_t)(void);

extern uint32_t __StackTop[];
extern uint32_t _sidata[];
extern uint32_t _sdata[];
extern uint32_t _edata[];
extern uint32_t _sbss[];
extern uint32_t _ebss[];

int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

__attribute__((section(".isr_vector"), used))
const vector_t vector_table[FWBUILD_VECTOR_COUNT] = {
    [0] = (vector_t)__StackTop,
    [1] = Reset_Handler,
    [2 ... FWBUILD_VECTOR_COUNT - 1] = Fault_Handler,
};

__attribute__((noreturn, optimize("no-tree-loop-distribute-patterns")))
void Reset_Handler(void)
{
    const uint32_t *src = _sidata;
    uint32_t *dst = _sdata;
    while (dst < _edata) {
        *dst++ = *src++;
    }
    for (dst = _sbss; dst < _ebss;) {
        *dst++ = 0;
    }
    (void)main();
    for (;;) {
    }
}

/* Any exception: the test sees QEMU time out instead of exit status 0. */
void Fault_Handler(void)
{
    for (;;) {
    }
}
