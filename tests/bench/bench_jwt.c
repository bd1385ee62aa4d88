/*
 * bench_jwt - CPU per token check: libjwt's jwt_decode plus the claim
 * reads kg_auth used to do, against kg_jwt_verify, on one token issued
 * by libjwt (what kg_auth_issue makes).  Decides README "The token
 * check" (issue 15): run by tests/bench/bench_jwt.sh (`make bench`).
 */
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kg_jwt.h"

#define KEY "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define N 200000

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *
issue(void)
{
	jwt_t *jwt = NULL;
	char *t;

	jwt_new(&jwt);
	jwt_add_grant(jwt, "sub", "6f1c0c7e-3b1a-4c55-9a39-0d7a7d2b9c10");
	jwt_add_grant(jwt, "role", "user");
	jwt_add_grant(jwt, "iss", "kartograf");
	jwt_add_grant(jwt, "jti", "00112233445566778899aabbccddeeff");
	jwt_add_grant_int(jwt, "epoch", 1);
	jwt_add_grant_int(jwt, "iat", time(NULL));
	jwt_add_grant_int(jwt, "exp", time(NULL) + 3600);
	jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)KEY,
		    (int)strlen(KEY));
	t = jwt_encode_str(jwt);
	jwt_free(jwt);
	return t;
}

int
main(void)
{
	char *t = issue();
	struct kg_jwt_claims c;
	struct kg_err err;
	double t0, t1, t2;
	long ok = 0;

	t0 = now_s();
	for (int i = 0; i < N; i++) {
		jwt_t *jwt = NULL;

		if (jwt_decode(&jwt, t, (const unsigned char *)KEY,
			       (int)strlen(KEY)) == 0 &&
		    jwt_get_alg(jwt) == JWT_ALG_HS256 &&
		    jwt_get_grant_int(jwt, "exp") > 0 &&
		    jwt_get_grant(jwt, "iss") && jwt_get_grant(jwt, "sub") &&
		    jwt_get_grant(jwt, "jti"))
			ok++;
		jwt_free(jwt);
	}
	t1 = now_s();
	for (int i = 0; i < N; i++)
		ok += kg_jwt_verify(t, KEY, strlen(KEY), "kartograf",
				    time(NULL), &c, &err) == 0;
	t2 = now_s();
	printf("token of %zu bytes, %d checks each (CPU time):\n", strlen(t), N);
	printf("  libjwt jwt_decode + claims  %.2f us per token\n",
	       (t1 - t0) / N * 1e6);
	printf("  kg_jwt_verify               %.2f us per token\n",
	       (t2 - t1) / N * 1e6);
	free(t);
	return ok == 2L * N ? 0 : 1;
}
