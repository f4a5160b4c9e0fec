// SPDX-License-Identifier: GPL-2.0-only
#include <math.h>
#include <stdbool.h>

#include "hist.h"
#include "json.h"

#define JSON_DEPTH	8

static FILE *out;
static int depth;
static bool first[JSON_DEPTH];
static char closer[JSON_DEPTH];

void json_open(FILE *f)
{
	out = f;
}

static void sep(const char *key)
{
	if (!first[depth])
		fputc(',', out);
	first[depth] = false;
	if (key)
		fprintf(out, "\"%s\":", key);
}

static void push(char open, char close)
{
	fputc(open, out);
	depth++;
	first[depth] = true;
	closer[depth] = close;
}

void json_begin(void)
{
	depth = 0;
	first[0] = true;
	push('{', '}');
}

void json_end(void)
{
	while (depth > 0)
		json_close();
	fputc('\n', out);
	fflush(out);
}

void json_obj(const char *key)
{
	sep(key);
	push('{', '}');
}

void json_arr(const char *key)
{
	sep(key);
	push('[', ']');
}

void json_close(void)
{
	fputc(closer[depth], out);
	depth--;
}

void json_str(const char *key, const char *v)
{
	sep(key);
	fputc('"', out);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', out);
		if ((unsigned char)*v >= 0x20)
			fputc(*v, out);
	}
	fputc('"', out);
}

void json_int(const char *key, int64_t v)
{
	sep(key);
	fprintf(out, "%lld", (long long)v);
}

void json_uint(const char *key, uint64_t v)
{
	sep(key);
	fprintf(out, "%llu", (unsigned long long)v);
}

void json_num(const char *key, double v)
{
	sep(key);
	if (isfinite(v))
		fprintf(out, "%.6g", v);
	else
		fputs("null", out);
}

void json_hist(const char *key, const struct hist *h, int buckets)
{
	unsigned int i;

	json_obj(key);
	json_uint("n", h->count);
	json_num("mean", h->count ? (double)h->sum / (double)h->count : NAN);
	json_uint("p50", hist_quantile(h, 0.50));
	json_uint("p90", hist_quantile(h, 0.90));
	json_uint("p99", hist_quantile(h, 0.99));
	json_uint("p999", hist_quantile(h, 0.999));
	json_uint("max", h->max);
	if (buckets) {
		json_arr("buckets");
		for (i = 0; i < HIST_BUCKETS; i++) {
			if (!h->b[i])
				continue;
			json_arr(NULL);
			json_uint(NULL, hist_low(i));
			json_uint(NULL, h->b[i]);
			json_close();
		}
		json_close();
	}
	json_close();
}
