/*
 * json_number.c - a double as JSON number text; see json_number.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "json_number.h"

int vigil_json_number(char buf[VIGIL_JSON_NUMBER_MAX], double v)
{
	int n = 0;

	if (!isfinite(v))
		return -1;
	if (v == 0.0)
		v = 0.0; /* no "-0" */
	for (int prec = 15; prec <= 17; prec++) {
		n = snprintf(buf, VIGIL_JSON_NUMBER_MAX, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/* A locale with a decimal comma must not reach the output. */
	for (int i = 0; i < n; i++)
		if (buf[i] != '-' && buf[i] != '+' && buf[i] != 'e' &&
		    (buf[i] < '0' || buf[i] > '9'))
			buf[i] = '.';
	return n;
}
