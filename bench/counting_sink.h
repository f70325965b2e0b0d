/*
 * counting_sink.h - the state of the benchmark's counting sink, which the
 * benchmark reads from the instance (it runs the core in-process).
 */
#ifndef VIGIL_BENCH_COUNTING_SINK_H
#define VIGIL_BENCH_COUNTING_SINK_H

#include <stdint.h>

struct counting_totals {
	uint64_t readings;      /* readings handed to write() */
	uint64_t batches;       /* write() calls */
	double value_sum;       /* sum of their values */
	uint64_t series_id_sum; /* sum of their series ids */
	uint64_t events;        /* incident events handed to deliver() */
	uint64_t events_by_type[6]; /* indexed by enum vigil_event_type */
};

#endif
