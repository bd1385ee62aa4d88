/*
 * bench_xlsx - time and memory of reading + validating one upload, the
 * way POST /api/batches does it (kg_batch_import): the file spooled as
 * the endpoint spools an upload body (kg_spool: 16 KiB pieces, an
 * unlinked temporary file past 64 KiB), kg_sheet_read_spool feeding
 * kg_rows_feed, whose sink kg_batch_copy_row writes each valid project
 * as a COPY row, then kg_rows_finish.  Only the flush differs: the
 * endpoint hands each ~8 KiB of COPY rows to libpq (PQputCopyData), this
 * counts them, so neither libpq's sending nor PostgreSQL's storing is
 * timed.  Driven by tests/bench/bench_xlsx.sh, which compares it with
 * openpyxl.
 *
 *   bench_xlsx [-n RUNS] [-w] [-m] [-p | -v | -s] FILE
 *
 * Runs the read RUNS times (default 5) in this process and prints one
 * line of key=value pairs:
 *
 *   rows=10000 errors=0 best_ms=... median_ms=... cpu_best_ms=...
 *   cpu_median_ms=... validate_ms=... maxrss_kib=... base_kib=...
 *   file_bytes=... spooled=1
 *
 * best/median are wall clock; cpu_* the process's CPU time per run,
 * which a machine loaded by other work inflates less.  The heap is
 * trimmed after each run, so each one touches fresh pages as the first
 * upload of a process does; -w (warm) keeps freed memory in the process
 * instead (no trimming, no mmap'd blocks), so runs 2..n reuse pages the
 * way a long-lived endpoint process may once glibc's thresholds have
 * risen - the best of such runs is the warm figure.  validate_ms is
 * the least time one run spent in kg_rows_feed outside the sink, so the
 * rest of that run is the reader's and the COPY rows'.
 *
 * maxrss_kib is getrusage(RUSAGE_SELF).ru_maxrss after the runs: the
 * peak of the whole process, so run it with -n 1 in a fresh process for
 * a peak that is one upload's.  base_kib is ru_maxrss at the start of
 * main (the program and its shared libraries).  -m holds the upload in
 * memory instead (as the endpoint did before issue 19).  -p parses only
 * (the rows go to a callback that counts them), to separate reader from
 * validator; -v validates without writing COPY rows, to separate the
 * checks from the rows' writing.  -s (.xlsx) measures the floor under
 * the reader instead, kg_xlsx_floor(): inflate_ms=... xml_ms=...
 * (expat) scan_ms=... (kg_xmlscan, which the reader uses; scan_bailed=1
 * if it left this sheet to expat), each the least of the runs.
 *
 * The row limit is raised to what the file needs (the endpoint's
 * default is 1000 rows per batch); everything else is the default.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "kg_batch.h"
#include "kg_csv.h"
#include "kg_rows.h"
#include "kg_spool.h"
#include "kg_xlsx.h"

#define MAX_RUNS 100

static int
count_row(void *arg, unsigned row, const struct kg_cell *cells,
	  unsigned ncols)
{
	(void)row;
	(void)cells;
	(void)ncols;
	(*(unsigned *)arg)++;
	return 0;
}

static double
now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The file into a spool as the endpoint receives an upload: in 16 KiB
 * pieces (kg_req_body_each), into an unlinked temporary file past 64
 * KiB. */
static int
spool_file(const char *path, struct kg_spool *out)
{
	char chunk[16384];
	FILE *f = fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (!f)
		return -1;
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = kg_spool_write(out, chunk, n);
	if (ferror(f))
		rc = -1;
	fclose(f);
	return rc;
}

/* The upload: spooled (as the endpoint holds it), or in memory (-m). */
struct upload {
	const char *path;	/* its name tells CSV from xlsx */
	struct kg_spool spool;
	struct kg_buf mem;
	int in_memory;
};

static int
read_upload(const struct upload *u, const struct kg_sheet_limits *lim,
	    kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	if (u->in_memory)
		return kg_sheet_read(u->mem.data, u->mem.len, u->path, NULL,
				     lim, fn, arg, err);
	return kg_sheet_read_spool(&u->spool, u->path, NULL, lim, fn, arg,
				   err);
}

/* The flush of the COPY buffer: where the endpoint hands the rows to
 * libpq (kg_db_copy_send), this only counts them. */
static int
count_flush(void *arg, const char *data, size_t len, struct kg_err *err)
{
	(void)data;
	(void)err;
	*(size_t *)arg += len;
	return 0;
}

/* One upload: read + validate (or read only).  Returns the number of
 * rows delivered (parse only) or projects created, -1 on a read error. */
static int
one_run(const struct upload *up, int parse_only, int validate_only,
	const struct kg_sheet_limits *lim, int *errors, double *validate_ms)
{
	struct kg_err err = {0};
	struct kg_rows rows;
	size_t copied = 0;
	struct kg_batch_copy copy = {
		.batch_id = "00000000-0000-4000-8000-000000000000",
		.flush = count_flush, .flush_arg = &copied, .err = &err};
	unsigned count = 0;
	int rc, n;

	if (parse_only) {
		rc = read_upload(up, lim, count_row, &count, &err);
		*errors = 0;
		n = (int)count;
		goto out;
	}
	kg_rows_init(&rows);
	if (!validate_only) {	/* as kg_batch_import */
		rows.sink = kg_batch_copy_row;
		rows.sink_arg = &copy;
	}
	rc = read_upload(up, lim, kg_rows_feed, &rows, &err);
	*errors = rc < 0 ? 0 : kg_rows_finish(&rows);
	if (rc == 0 && !validate_only)
		rc = kg_batch_copy_flush(&copy);
	*validate_ms = rows.feed_ms - rows.sink_ms;
	n = (int)rows.nvalid;
	kg_rows_free(&rows);
	kg_buf_free(&copy.buf);
out:
	if (rc < 0) {
		fprintf(stderr, "bench_xlsx: %d %s: %s\n", err.status, err.code,
			err.message);
		return -1;
	}
	return n;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* -s: the least inflate and XML times of `runs` kg_xlsx_floor() calls. */
static int
floor_runs(const struct kg_buf *file, const struct kg_sheet_limits *lim,
	   int runs)
{
	struct kg_xlsx_floor f, best = {1e9, 1e9, 1e9, 0};
	struct kg_err err = {0};

	for (int i = 0; i < runs; i++) {
		if (kg_xlsx_floor(file->data, file->len, lim, &f, &err) < 0) {
			fprintf(stderr, "bench_xlsx: %d %s: %s\n", err.status,
				err.code, err.message);
			return 1;
		}
		if (f.inflate_ms < best.inflate_ms)
			best.inflate_ms = f.inflate_ms;
		if (f.xml_ms < best.xml_ms)
			best.xml_ms = f.xml_ms;
		if (f.scan_ms < best.scan_ms)
			best.scan_ms = f.scan_ms;
		best.scan_bailed |= f.scan_bailed;
	}
	printf("inflate_ms=%.1f xml_ms=%.1f scan_ms=%.1f scan_bailed=%d "
	       "file_bytes=%zu\n", best.inflate_ms, best.xml_ms, best.scan_ms,
	       best.scan_bailed, file->len);
	return 0;
}

int
main(int argc, char **argv)
{
	struct kg_sheet_limits lim;
	struct upload up = {0};
	struct rusage ru, ru0;
	double ms[MAX_RUNS], cpu[MAX_RUNS], t0, c0, val, best_val = 0;
	int runs = 5, parse_only = 0, validate_only = 0, floor = 0, opt, i,
	    n = 0, errors = 0, warm = 0, rc = 1;

	while ((opt = getopt(argc, argv, "n:pvswm")) != -1) {
		if (opt == 'n')
			runs = atoi(optarg);
		else if (opt == 'p')
			parse_only = 1;
		else if (opt == 'w')
			warm = 1;
		else if (opt == 'v')
			validate_only = 1;
		else if (opt == 's')
			floor = 1;
		else if (opt == 'm')
			up.in_memory = 1;
		else
			goto usage;
	}
	if (optind != argc - 1 || runs < 1 || runs > MAX_RUNS)
		goto usage;
	if (warm) {
		mallopt(M_TRIM_THRESHOLD, 512 << 20);
		mallopt(M_MMAP_THRESHOLD, 32 << 20);
	}
	getrusage(RUSAGE_SELF, &ru0);	/* the program and its libraries */
	up.path = argv[optind];
	up.in_memory |= floor;
	if ((up.in_memory ? kg_buf_read_file(&up.mem, up.path, (size_t)1 << 30)
			  : spool_file(up.path, &up.spool)) < 0) {
		perror(up.path);
		goto out;
	}
	kg_sheet_limits_default(&lim);
	lim.max_rows = 1000000;
	if (floor) {
		rc = floor_runs(&up.mem, &lim, runs);
		goto out;
	}
	for (i = 0; i < runs; i++) {
		t0 = now_ms(CLOCK_MONOTONIC);
		c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
		val = 0;
		n = one_run(&up, parse_only, validate_only, &lim, &errors,
			    &val);
		cpu[i] = now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0;
		ms[i] = now_ms(CLOCK_MONOTONIC) - t0;
		if (n < 0)
			goto out;
		if (!i || val < best_val)
			best_val = val;
		/* Cold: whether free() gave a run's memory back used to
		 * depend on what happened to lie at the top of the heap, so
		 * runs 2..n were sometimes served pages already touched -
		 * 190 page faults instead of 1,830, 10 ms instead of 40 for
		 * keeping 10,000 rows on this VM. */
		if (!warm)
			malloc_trim(0);
	}
	getrusage(RUSAGE_SELF, &ru);
	qsort(ms, (size_t)runs, sizeof(ms[0]), cmp_double);
	qsort(cpu, (size_t)runs, sizeof(cpu[0]), cmp_double);
	printf("rows=%d errors=%d best_ms=%.1f median_ms=%.1f cpu_best_ms=%.1f "
	       "cpu_median_ms=%.1f validate_ms=%.1f maxrss_kib=%ld "
	       "base_kib=%ld file_bytes=%zu spooled=%d\n",
	       n, errors, ms[0], ms[runs / 2], cpu[0], cpu[runs / 2], best_val,
	       ru.ru_maxrss, ru0.ru_maxrss,
	       up.in_memory ? up.mem.len : up.spool.len, up.spool.in_file);
	rc = 0;
out:
	kg_buf_free(&up.mem);
	kg_spool_free(&up.spool);
	return rc;
usage:
	fprintf(stderr, "usage: %s [-n RUNS] [-w] [-m] [-p | -v | -s] "
		"FILE.xlsx|FILE.csv\n", argv[0]);
	return 2;
}
