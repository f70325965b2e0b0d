/*
 * counting_sink.h - the state of the benchmark's counting sink, which the
 * in-process benchmark reads from the instance; a run of vigild gets the
 * same totals from the file named by the sink's `totals_file` option.
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
	/* For a run of vigild (bench/isolation_throughput.sh): CLOCK_MONOTONIC
	 * at the first and the last write(), and the size of the first batch,
	 * so that readings/s can be taken over the time readings flowed. */
	uint64_t first_write_ns, last_write_ns;
	uint64_t first_batch;
};

#endif
