#include <stdio.h>
#include <string.h>

#include "hello.h"

static int check(int ok, const char *what) {
    printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *which = argc > 1 ? argv[1] : "";
    if (strcmp(which, "greeting") == 0) {
        char buf[32];
        int n = hello_greeting("arm", buf, sizeof buf);
        return check(n == 10 && strcmp(buf, "hello, arm") == 0, "greeting");
    }
    if (strcmp(which, "checksum") == 0) {
        const char *w = "Wikipedia";
        return check(hello_adler32((const unsigned char *)w, strlen(w)) == 0x11E60398u, "adler32");
    }
    if (strcmp(which, "architecture") == 0) {
        printf("compiled for %s\n", hello_target());
        return check(strcmp(hello_target(), "unknown") != 0, "architecture");
    }
    fprintf(stderr, "unknown test %s\n", which);
    return 2;
}
