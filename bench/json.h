/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A JSON Lines writer: one object per record, one record per line, which
 * the report reads back with any JSON parser.  Nesting is tracked so that
 * commas come out right; keys and strings are our own ASCII names.
 */
#ifndef BENCH_JSON_H
#define BENCH_JSON_H

#include <stdint.h>
#include <stdio.h>

struct hist;

void json_open(FILE *f);
/* Begin a record; end it with json_end(), which writes the newline. */
void json_begin(void);
void json_end(void);

void json_obj(const char *key);		/* key: { ... json_close() */
void json_arr(const char *key);		/* key: [ ... json_close() */
void json_close(void);

void json_str(const char *key, const char *v);
void json_int(const char *key, int64_t v);
void json_uint(const char *key, uint64_t v);
void json_num(const char *key, double v);	/* NaN/inf become null */

/* Array elements: pass a NULL key inside json_arr(). */

/* The summary of @h under @key, and its non-empty buckets as [ns, n]. */
void json_hist(const char *key, const struct hist *h, int buckets);

#endif /* BENCH_JSON_H */
