/*
 * kartograf-admin - operator's command line tool.
 *
 *   kartograf-admin migrate [--sql-dir DIR]
 *   kartograf-admin adduser EMAIL [--admin] [--name NAME]
 *   kartograf-admin passwd EMAIL       (ends every session of the user)
 *   kartograf-admin setrole EMAIL user|admin
 *   kartograf-admin deluser EMAIL      (and their stored export files)
 *   kartograf-admin prune-exports --older-than AGE   (30d, 12h, 90m, 3600s)
 *   kartograf-admin config-check
 *
 * New passwords follow the rule of kg_password_strength (README
 * "Authentication"), as they do in the API.
 *
 * Passwords are read from the terminal (twice, without echo) or, when
 * stdin is not a terminal, as one line from stdin; never from argv,
 * which every user of the machine can read in /proc.
 *
 * Exit codes: 0 ok, 1 failure, 2 usage, 3 user exists / not found.
 */
#include "kg_app.h"
#include "kg_config.h"
#include "kg_db.h"
#include "kg_export.h"
#include "kg_failover.h"
#include "kg_log.h"
#include "kg_migrate.h"
#include "kg_password.h"
#include "kg_user.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int
usage(void)
{
	fprintf(stderr,
		"usage: kartograf-admin migrate [--sql-dir DIR]\n"
		"       kartograf-admin adduser EMAIL [--admin] [--name NAME]\n"
		"       kartograf-admin passwd EMAIL\n"
		"       kartograf-admin setrole EMAIL user|admin\n"
		"       kartograf-admin deluser EMAIL\n"
		"       kartograf-admin prune-exports --older-than AGE "
		"(e.g. 30d, 12h, 90m, 3600s)\n"
		"       kartograf-admin config-check\n"
		"Config: $KARTOGRAF_CONFIG or " KG_CONFIG_DEFAULT_PATH "\n");
	return 2;
}

static int
read_line(const char *prompt, char *buf, size_t size)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO);
	size_t n;

	if (tty) {
		fputs(prompt, stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	if (!fgets(buf, (int)size, stdin))
		buf[0] = '\0';
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	return (int)n;
}

static int
read_password(char *buf, size_t size, const char *email)
{
	char again[KG_PASSWORD_MAX_LEN + 2];
	struct kg_err err = {0};

	read_line("Password: ", buf, size);
	if (kg_password_strength(buf, email, &err) < 0) {
		fprintf(stderr, "kartograf-admin: %s\n", err.message);
		return -1;
	}
	if (isatty(STDIN_FILENO)) {
		read_line("Again: ", again, sizeof(again));
		if (strcmp(buf, again) != 0) {
			fprintf(stderr, "passwords do not match\n");
			return -1;
		}
	}
	return 0;
}

static int
fail(const struct kg_err *err)
{
	fprintf(stderr, "kartograf-admin: %s\n", err->message);
	return err->status == 409 || err->status == 404 ? 3 : 1;
}

static int
cmd_migrate(int argc, char **argv)
{
	const char *dir = kg_config_str("paths", "sql_dir");
	struct kg_err err = {0};
	int applied;

	if (argc == 2 && !strcmp(argv[0], "--sql-dir"))
		dir = argv[1];
	else if (argc != 0)
		return usage();
	applied = kg_migrate(dir, &err);
	if (applied < 0)
		return fail(&err);
	printf("%d migration(s) applied\n", applied);
	return 0;
}

static int
cmd_adduser(int argc, char **argv)
{
	char password[KG_PASSWORD_MAX_LEN + 2];
	struct kg_err err = {0};
	const char *name = NULL;
	int admin = 0, rc;

	if (argc < 1)
		return usage();
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--admin"))
			admin = 1;
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else
			return usage();
	}
	if (read_password(password, sizeof(password), argv[0]) < 0)
		return 1;
	rc = kg_user_create(argv[0], name, admin ? "admin" : "user", password,
			    &err);
	explicit_bzero(password, sizeof(password));
	if (rc < 0)
		return fail(&err);
	printf("user %s created\n", argv[0]);
	return 0;
}

static int
cmd_passwd(int argc, char **argv)
{
	char password[KG_PASSWORD_MAX_LEN + 2];
	struct kg_err err = {0};
	int rc;

	if (argc != 1)
		return usage();
	if (read_password(password, sizeof(password), argv[0]) < 0)
		return 1;
	rc = kg_user_set_password(argv[0], password, &err);
	explicit_bzero(password, sizeof(password));
	if (rc < 0)
		return fail(&err);
	printf("password of %s changed, all their sessions ended\n",
	       argv[0]);
	return 0;
}

static int
cmd_setrole(int argc, char **argv)
{
	struct kg_err err = {0};

	if (argc != 2)
		return usage();
	if (kg_user_set_role(argv[0], argv[1], &err) < 0)
		return err.status == 400 ? usage() : fail(&err);
	printf("user %s now has role %s (effective on their next request)\n",
	       argv[0], argv[1]);
	return 0;
}

static int
cmd_deluser(int argc, char **argv)
{
	struct kg_err err = {0};
	int files;

	if (argc != 1)
		return usage();
	files = kg_export_purge_user(argv[0], &err);
	if (files < 0 || kg_user_delete(argv[0], &err) < 0)
		return fail(&err);
	printf("user %s deleted with all their batches (%d stored "
	       "export file(s) removed)\n", argv[0], files);
	return 0;
}

/* "30d", "12h", "90m", "3600s" or plain seconds -> seconds, -1 if bad. */
static long long
parse_age(const char *s)
{
	static const struct { char unit; long long secs; } units[] = {
		{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char *end;
	long long n;

	if (!s || *s < '0' || *s > '9')
		return -1;
	n = strtoll(s, &end, 10);
	if (n < 0 || n > 36500LL * 86400)
		return -1;
	if (!*end)
		return n;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (end[0] == units[i].unit && !end[1])
			return n * units[i].secs;
	return -1;
}

static int
cmd_prune_exports(int argc, char **argv)
{
	struct kg_err err = {0};
	long long age, n, total = 0;

	if (argc != 2 || strcmp(argv[0], "--older-than"))
		return usage();
	age = parse_age(argv[1]);
	if (age < 0) {
		fprintf(stderr, "bad age \"%s\": use e.g. 30d, 12h, 90m or "
			"3600s\n", argv[1]);
		return 2;
	}
	do {	/* in rounds, so a huge history is not one transaction */
		n = kg_export_prune(age, 1000, &err);
		if (n < 0)
			return fail(&err);
		total += n;
	} while (n == 1000);
	printf("%lld old export(s) pruned (older than %lld s; the newest "
	       "export of every card and batch kept)\n", total, age);
	return 0;
}

static void
print_line(const char *line)
{
	puts(line);
}

static void
print_problem(const char *msg)
{
	fprintf(stderr, "config error: %s\n", msg);
}

/* Valid but risky settings: printed, not refused. */
static void
config_warnings(void)
{
	if (!*kg_config_str("metrics", "token"))
		fprintf(stderr, "warning: [metrics] token is empty: GET "
				"/metrics answers nobody (set one for the "
				"scraper: openssl rand -hex 32)\n");
	if (kg_config_bool("auth", "query_token"))
		fprintf(stderr, "warning: [auth] query_token is on: event "
				"streams accept ?token=<JWT>, which web "
				"servers and proxies write to their logs\n");
}

static int
cmd_config_check(void)
{
	struct kg_err err = {0};
	int problems = kg_config_check(NULL, print_problem);

	if (problems) {
		fprintf(stderr, "%d problem(s) in configuration\n", problems);
		return 1;
	}
	if (kg_config_load(NULL, &err) < 0 ||
	    kg_failover_check_config(&err) < 0 ||
	    kg_app_check_config(&err) < 0)
		return fail(&err);
	config_warnings();
	printf("configuration OK (%s)\n", kg_config_path());
	kg_config_print(print_line);
	return 0;
}

int
main(int argc, char **argv)
{
	struct kg_err err = {0};
	int rc;

	kg_log_init("kartograf-admin");
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "config-check"))
		return cmd_config_check();
	if (kg_config_load(NULL, &err) < 0) {
		fprintf(stderr, "kartograf-admin: config: %s\n", err.message);
		return 1;
	}
	if (!strcmp(argv[1], "migrate"))
		rc = cmd_migrate(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "adduser"))
		rc = cmd_adduser(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "passwd"))
		rc = cmd_passwd(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "setrole"))
		rc = cmd_setrole(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "deluser"))
		rc = cmd_deluser(argc - 2, argv + 2);
	else if (!strcmp(argv[1], "prune-exports"))
		rc = cmd_prune_exports(argc - 2, argv + 2);
	else
		rc = usage();
	kg_db_close();
	kg_config_free();
	return rc;
}
