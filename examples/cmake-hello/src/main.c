#include <stdio.h>

#include "hello.h"

int main(int argc, char **argv) {
    char buf[128];
    hello_greeting(argc > 1 ? argv[1] : "world", buf, sizeof buf);
    printf("%s (built for %s)\n", buf, hello_target());
    return 0;
}
