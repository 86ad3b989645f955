/* Exceptions under the bootloader's table on a core without VTOR (see ../README.md). */
#include <stdint.h>

#include "board.h"
#include "fwbuild_layout.h"

#if !defined(VECTOR_FORWARD_ADDR)
#error "this test application is for a layout whose first stage forwards exceptions"
#endif

#define ICSR (*(volatile uint32_t *)0xE000ED04u)
#define ICSR_PENDSVSET (1u << 28)
#define NVIC_ISER (*(volatile uint32_t *)0xE000E100u)
#define NVIC_ISPR (*(volatile uint32_t *)0xE000E200u)
#define SWI0_IRQ 20u
/* QEMU models VTOR even on its Cortex-M0 (a real nRF51 has none): reading it shows that
 * nobody moved the table, so the core took every exception from the bootloader's at 0x0. */
#define VTOR (*(volatile uint32_t *)0xE000ED08u)

/* The exception number each handler saw: 0 until it ran; and the lr SVC_Handler got. */
static volatile uint32_t svc_seen, pendsv_seen, irq_seen, svc_lr;

static uint32_t ipsr(void)
{
    uint32_t value;
    __asm__ volatile("mrs %0, ipsr" : "=r"(value));
    return value;
}

void SVC_Handler(void)
{
    svc_lr = (uint32_t)(uintptr_t)__builtin_return_address(0);
    svc_seen = ipsr();
}

void PendSV_Handler(void)
{
    pendsv_seen = ipsr();
}

/* The example's start-up puts Default_Handler in every IRQ entry (weak on Armv6-M). */
void Default_Handler(void)
{
    irq_seen = ipsr();
    NVIC_ISPR = 0u; /* nothing left pending */
}

static void put_seen(const char *name, uint32_t number)
{
    board_puts("app: ");
    board_puts(name);
    board_puts(number ? " handled as exception " : " not taken");
    if (number) {
        board_put_uint(number);
    }
    board_puts("\n");
}

int main(void)
{
    board_puts("app: forwarding word holds ");
    board_put_uint(*(volatile const uint32_t *)VECTOR_FORWARD_ADDR);
    board_puts(", application at ");
    board_put_uint(APPLICATION_ADDR);
    board_puts(", VTOR ");
    board_put_uint(VTOR);
    board_puts("\n");

    __asm__ volatile("svc #0" ::: "memory");
    ICSR = ICSR_PENDSVSET;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    NVIC_ISER = 1u << SWI0_IRQ;
    NVIC_ISPR = 1u << SWI0_IRQ;
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    put_seen("SVC", svc_seen);
    /* A handler reached by the forwarder's tail branch returns with the core's EXC_RETURN. */
    board_puts((svc_lr & 0xFFFFFFF0u) == 0xFFFFFFF0u ? "app: SVC handler entered with EXC_RETURN in lr\n"
                                                      : "app: SVC handler entered with a call's lr\n");
    put_seen("PendSV", pendsv_seen);
    put_seen("SWI0 interrupt", irq_seen);
    board_exit(svc_seen == 11u && pendsv_seen == 14u && irq_seen == 16u + SWI0_IRQ ? 0 : 1);
}
