/*
 * utf8.h - strict UTF-8 checks (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), stricter than yajl's own, which
 * lets those through and so writes JSON that Python, Go or jq refuse.
 *
 * Pure and self-contained: compiled into vigild and, as a source file of
 * their own, into the sinks that write JSON (plugins never link vigild).
 */
#ifndef VIGIL_UTF8_H
#define VIGIL_UTF8_H

#include <stddef.h>

/* Length of the well-formed sequence at p (n bytes available), or 0 if
 * it is not one. */
size_t vigil_utf8_seq(const unsigned char *p, size_t n);

/* Whether the n bytes at p are all well-formed UTF-8. */
int vigil_utf8_valid(const unsigned char *p, size_t n);

#endif
