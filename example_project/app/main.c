#include "board.h"

/* The build passes these as string macros, e.g. -DFW_VERSION=\"1.2.3\". */
#ifndef FW_VERSION
#define FW_VERSION "0.0.0"
#endif
#ifndef FW_TARGET
#define FW_TARGET "unknown"
#endif

int main(void)
{
    board_puts("fwbuild example app " FW_VERSION " on " FW_TARGET "\n");
    board_exit(0);
}
