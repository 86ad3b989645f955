/*
 * Minimal Cortex-M start-up code for the fwbuild example application.
 *
 * Every address comes from the linker script (templates/gcc_arm.ld.j2):
 * __StackTop, _sidata, _sdata, _edata, _sbss, _ebss. The build passes
 * FWBUILD_VECTOR_COUNT (16 core entries + the target's IRQs) with -D.
 */
#include <stdint.h>

#ifndef FWBUILD_VECTOR_COUNT
#define FWBUILD_VECTOR_COUNT (16 + 32)
#endif

#if FWBUILD_VECTOR_COUNT < 16
#error "FWBUILD_VECTOR_COUNT must count the 16 core entries"
#endif

typedef void (*vector_t)(void);

/* Linker symbols: only their addresses mean anything. */
extern uint32_t __StackTop[];
extern uint32_t _sidata[];
extern uint32_t _sdata[];
extern uint32_t _edata[];
extern uint32_t _sbss[];
extern uint32_t _ebss[];

int main(void);

void Reset_Handler(void);
void Default_Handler(void);

/* A core that may lack VTOR (Armv6-M, Armv8-M baseline): Default_Handler is weak, so that a
 * first stage replaces it (and every handler) with the forwarder of bootloader/forward.c. */
#if defined(__ARM_ARCH_6M__) || defined(__ARM_ARCH_8M_BASE__)
#define DEFAULT_HANDLER_LINKAGE __attribute__((weak))
#else
#define DEFAULT_HANDLER_LINKAGE
#endif

#define WEAK_DEFAULT __attribute__((weak, alias("Default_Handler")))
void NMI_Handler(void) WEAK_DEFAULT;
void HardFault_Handler(void) WEAK_DEFAULT;
void MemManage_Handler(void) WEAK_DEFAULT;
void BusFault_Handler(void) WEAK_DEFAULT;
void UsageFault_Handler(void) WEAK_DEFAULT;
void SecureFault_Handler(void) WEAK_DEFAULT;
void SVC_Handler(void) WEAK_DEFAULT;
void DebugMon_Handler(void) WEAK_DEFAULT;
void PendSV_Handler(void) WEAK_DEFAULT;
void SysTick_Handler(void) WEAK_DEFAULT;

__attribute__((section(".isr_vector"), used))
const vector_t vector_table[FWBUILD_VECTOR_COUNT] = {
    [0] = (vector_t)__StackTop, /* initial main stack pointer */
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [7] = SecureFault_Handler,
    [8] = 0,
    [9] = 0,
    [10] = 0,
    [11] = SVC_Handler,
    [12] = DebugMon_Handler,
    [13] = 0,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
#if FWBUILD_VECTOR_COUNT > 16
    /* Every IRQ goes to Default_Handler (GCC range designator). */
    [16 ... FWBUILD_VECTOR_COUNT - 1] = Default_Handler,
#endif
};

_Static_assert(sizeof(vector_table) == 4 * FWBUILD_VECTOR_COUNT, "vector table size");

/* Keep the compiler from turning the copy loops into memcpy/memset calls: GCC by its
 * option, clang by its attribute. */
#if defined(__clang__)
#define NO_LIBCALL_LOOPS __attribute__((no_builtin("memcpy", "memset")))
#else
#define NO_LIBCALL_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
__attribute__((noreturn)) NO_LIBCALL_LOOPS
void Reset_Handler(void)
{
#if defined(__ARM_FP)
    /* Grant full access to CP10/CP11 before any floating-point instruction. */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) \
    || defined(__ARM_ARCH_8_1M_MAIN__)
    /* Point VTOR at our own table: right whether or not a bootloader ran first. Armv6-M has
     * no VTOR, and on Armv8-M baseline it is optional: there a bootloader sets it, or
     * forwards exceptions when the core has none (fwbuild_layout.h's VECTOR_FORWARD_ADDR). */
    *(volatile uint32_t *)0xE000ED08u = (uint32_t)(uintptr_t)vector_table;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif

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

DEFAULT_HANDLER_LINKAGE void Default_Handler(void)
{
    for (;;) {
    }
}
