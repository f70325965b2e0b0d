/*
 * journal_dump - what a vigild would restore from a journal, for the
 * integration tests (kill9_journal.sh).
 *
 *     journal_dump JOURNAL [SINK...]
 *
 * Replays JOURNAL with the pipeline's own code (vigil_pipeline_journal_open,
 * as vigild does at start) into a pipeline whose sinks are the SINK names
 * (sections such as "sink.witness"), and prints, one per line:
 *
 *     next_id N                  the id the next incident will get
 *     next_silence N             the id the next silence will get
 *     open ID KEY SEVERITY STATUS  each open incident (STATUS open or
 *                                acknowledged)
 *     history ID KEY             each resolved incident still in history
 *     silence ID EXPR            each silence added by vigilctl
 *     pending SINK ID EVENT      each event a sink had not taken, in order
 *
 * Opening a journal cuts a torn tail and compacts it, like vigild does:
 * run it on a copy. Its log lines go to stderr. Exit status 0, or 1 when
 * the journal cannot be opened (locked, unreadable).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "pipeline.h"

static int print_one(void *user, struct vigil_incident *inc)
{
	(void)user;
	if (inc->status == VIGIL_STATUS_RESOLVED)
		printf("history %llu %s\n", (unsigned long long)inc->id,
		       inc->key);
	else
		printf("open %llu %s %s %s\n", (unsigned long long)inc->id,
		       inc->key, vigil_severity_name(inc->severity),
		       vigil_status_name(inc->status));
	return 0;
}

int main(int argc, char **argv)
{
	struct vigil_pipeline pl;
	struct vigil_instance *sinks[64], *v;
	size_t n = 0;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: journal_dump JOURNAL [SINK...]\n");
		return 2;
	}
	v = calloc(64, sizeof(*v));
	if (!v)
		return 1;
	for (int i = 2; i < argc && n < 64; i++, n++) {
		v[n].kind = VIGIL_KIND_SINK;
		v[n].section = argv[i];
		v[n].name = argv[i];
		v[n].events = 1;
		sinks[n] = &v[n];
	}
	vigil_pipeline_init(&pl, 16, NULL, 0, sinks, n, NULL, 0);
	rc = vigil_pipeline_journal_open(&pl, argv[1], VIGIL_JOURNAL_SYNC_NEVER,
					 0);
	if (rc < 0) {
		fprintf(stderr, "journal_dump: cannot open %s: %s\n", argv[1],
			strerror(-rc));
		return 1;
	}
	printf("next_id %llu\n", (unsigned long long)pl.incidents.next_id);
	printf("next_silence %llu\n", (unsigned long long)pl.silences.next_id);
	vigil_incidents_foreach(&pl.incidents, 1, print_one, NULL);
	for (size_t i = 0; i < pl.silences.n; i++)
		printf("silence %llu %s\n",
		       (unsigned long long)pl.silences.v[i]->id,
		       pl.silences.v[i]->expr);
	for (size_t k = 0; k < n; k++) {
		const struct vigil_sink_queue *q = &pl.retry[k];

		for (size_t i = 0; i < q->len; i++) {
			const struct vigil_event *e = &q->ev[q->head + i]->pub;
			printf("pending %s %llu %s\n", sinks[k]->section,
			       (unsigned long long)e->incident_id,
			       vigil_event_type_name(e->type));
		}
	}
	fflush(stdout);
	/* Says on stderr that the pending events were never delivered: they
	 * are not meant to be, here. */
	vigil_pipeline_free(&pl);
	free(v);
	return 0;
}
