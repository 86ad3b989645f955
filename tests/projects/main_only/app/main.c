/* main_only: no start-up code of its own. Prints "main_only <version> ok" over ARM
 * semihosting when fwbuild's default start-up copied .data, cleared .bss and ran the
 * constructors, and exits with status 0 (3 otherwise). */
#include <stdint.h>

static int semihost(int op, const void *arg)
{
    register int r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

static void finish(const char *text, uint32_t status)
{
    const uint32_t block[2] = {0x20026u, status}; /* ADP_Stopped_ApplicationExit */
    (void)semihost(0x04, text);                   /* SYS_WRITE0 */
    (void)semihost(0x20, block);                  /* SYS_EXIT_EXTENDED */
}

static volatile uint32_t initialised = 0x600DF00Du;
static volatile uint32_t zeroed;
static volatile uint32_t constructed;

__attribute__((constructor)) static void construct(void)
{
    constructed = 1u;
}

/* Named in the target file's irq_handlers: the default vector table points IRQ 0 here. */
void UART0RX_IRQHandler(void)
{
}

int main(void)
{
    if (initialised != 0x600DF00Du || zeroed != 0u || constructed != 1u) {
        finish("main_only: start-up did not initialise the program\n", 3u);
    }
    finish("main_only " FW_VERSION " ok\n", 0u);
    return 0;
}
