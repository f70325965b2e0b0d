/*
 * json_number.h - a double as JSON number text: the shortest of
 * %.15g/%.16g/%.17g that reads back exactly (yajl_gen_double prints
 * %.20g, which turns 48.3 into 48.29999999999999716), negative zero as 0,
 * and a '.' whatever the locale's decimal point.
 *
 * Pure and self-contained: compiled into vigild and, as a source file of
 * their own, into the sinks that write JSON (plugins never link vigild).
 */
#ifndef VIGIL_JSON_NUMBER_H
#define VIGIL_JSON_NUMBER_H

#include <stddef.h>

#define VIGIL_JSON_NUMBER_MAX 40

/* Writes v's text into buf (no terminator needed by the caller; one is
 * written) and returns its length, or -1 when v is not finite (JSON has
 * no NaN or infinity: the caller writes null). */
int vigil_json_number(char buf[VIGIL_JSON_NUMBER_MAX], double v);

#endif
