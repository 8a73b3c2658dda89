#ifndef HELLO_H
#define HELLO_H

#include <stddef.h>
#include <stdint.h>

/* Writes "hello, <name>" into buf (at most len bytes); returns its length. */
int hello_greeting(const char *name, char *buf, size_t len);

/* Adler-32 of data: exercises integer arithmetic on the target CPU. */
uint32_t hello_adler32(const unsigned char *data, size_t len);

/* The machine the code was compiled for, e.g. "armv7". */
const char *hello_target(void);

#endif
