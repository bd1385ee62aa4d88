/*
 * export_build - times Kartograf's export builders for bench_export.sh.
 *
 *   export_build card <project_id> <n>   kg_export_card() n times
 *   export_build zip <batch_id> <n>      kg_export_zip() n times
 *
 * Each run does what the worker does for one export task minus storage:
 * read the card(s) from PostgreSQL and build the file in memory.  Prints
 * "<ms per build> <bytes>" on stdout.  Config from $KARTOGRAF_CONFIG.
 */
#include "kg_clock.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_export.h"
#include "kg_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_ms(void)
{
	return (double)kg_clock_us() / 1e3;
}

int
main(int argc, char **argv)
{
	struct kg_err err = {0};
	struct kg_buf out = {0};
	double t0, total;
	int n, zip, rc = 1;

	kg_log_init("export_build");
	if (argc != 4 || (strcmp(argv[1], "card") && strcmp(argv[1], "zip"))) {
		fprintf(stderr, "usage: export_build card|zip <id> <n>\n");
		return 2;
	}
	if (kg_config_load(NULL, &err) < 0) {
		fprintf(stderr, "config: %s\n", err.message);
		return 1;
	}
	zip = !strcmp(argv[1], "zip");
	n = atoi(argv[3]);
	t0 = now_ms();
	for (int i = 0; i < n; i++) {
		kg_buf_reset(&out);
		if ((zip ? kg_export_zip(argv[2], time(NULL), &out, &err)
			 : kg_export_card(argv[2], &out, NULL, &err)) < 0) {
			fprintf(stderr, "build failed: %s\n", err.message);
			goto out;
		}
	}
	total = now_ms() - t0;
	printf("%.3f %zu\n", total / (n > 0 ? n : 1), out.len);
	rc = 0;
out:
	kg_buf_free(&out);
	kg_db_close();
	kg_config_free();
	return rc;
}
