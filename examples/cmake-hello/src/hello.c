#include "hello.h"

#include <stdio.h>

int hello_greeting(const char *name, char *buf, size_t len) {
    return snprintf(buf, len, "hello, %s", name);
}

uint32_t hello_adler32(const unsigned char *data, size_t len) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < len; i++) {
        a = (a + data[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return (b << 16) | a;
}

const char *hello_target(void) {
#if defined(__ARM_ARCH_7A__)
    return "armv7";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__x86_64__)
    return "amd64";
#else
    return "unknown";
#endif
}
