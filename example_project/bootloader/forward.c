/*
 * Exception forwarding for a core without VTOR (Cortex-M0, and the Cortex-M0+/M23 chips
 * built without one): the core takes every exception from this bootloader's table at the
 * flash start, whatever program runs. Each entry but the initial SP and reset goes to
 * forward_exception, which reads the vector-table address the bootloader wrote into the
 * word at VECTOR_FORWARD_ADDR before it started the application (main.c), and branches to
 * that table's handler for the active exception, as Nordic's MBR and nRF51 bootloaders do.
 * While the word is 0 (the bootloader itself runs) it stops, as Default_Handler would.
 *
 * fwbuild reserves the word at the start of the main RAM bank in this layout, so no
 * program's .data, .bss, heap or stack covers it; fwbuild_layout.h defines its address
 * only when the core has no VTOR. Everywhere else this file compiles to nothing.
 */
#include <stdint.h>

#include "fwbuild_layout.h"

#if defined(VECTOR_FORWARD_ADDR)

void forward_exception(void);

/* Thumb-1 only (Armv6-M), no stack: r0 and r1 are saved in the exception frame, and lr
 * keeps its EXC_RETURN value, so the handler runs exactly as if the core had called it
 * (an RTOS's PendSV may switch stacks). Costs about ten cycles of interrupt latency. */
__attribute__((naked)) void forward_exception(void)
{
    __asm__ volatile(
        ".syntax unified\n\t" /* GCC hands inline assembly over in divided syntax */
        "ldr r0, 2f\n\t"
        "ldr r0, [r0]\n\t" /* the table to forward to, or 0 */
        "cmp r0, #0\n\t"
        "beq 1f\n\t"
        "mrs r1, ipsr\n\t" /* the active exception's number: its entry in the table */
        "lsls r1, r1, #2\n\t"
        "ldr r0, [r0, r1]\n\t"
        "bx r0\n"
        "1:\n\t"
        "b 1b\n\t" /* no program to forward to: stop, as Default_Handler does */
        ".align 2\n"
        "2:\n\t"
        ".word %c0\n" ::"i"(VECTOR_FORWARD_ADDR));
}

/* Every entry of startup.c's table (their weak defaults) goes to the forwarder. */
#define FORWARDED __attribute__((alias("forward_exception")))
void NMI_Handler(void) FORWARDED;
void HardFault_Handler(void) FORWARDED;
void MemManage_Handler(void) FORWARDED;
void BusFault_Handler(void) FORWARDED;
void UsageFault_Handler(void) FORWARDED;
void SecureFault_Handler(void) FORWARDED;
void SVC_Handler(void) FORWARDED;
void DebugMon_Handler(void) FORWARDED;
void PendSV_Handler(void) FORWARDED;
void SysTick_Handler(void) FORWARDED;
void Default_Handler(void) FORWARDED;

#else

typedef int forward_unused; /* ISO C wants something in a translation unit */

#endif
