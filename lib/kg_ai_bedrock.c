/*
 * The "bedrock" provider: Anthropic models on AWS Bedrock through
 * InvokeModel,
 *
 *   POST {endpoint}/model/{modelId}/invoke
 *   endpoint = https://bedrock-runtime.{region}.amazonaws.com
 *              unless [bedrock] endpoint says otherwise (tests, VPC
 *              endpoints)
 *
 * with the Anthropic messages body (kg_aihttp.h).
 *
 * Authentication, first found wins: [bedrock] api_key (a Bedrock API
 * key, sent as "Authorization: Bearer"); [bedrock] access_key_id +
 * secret_access_key (+ session_token); the environment's
 * AWS_BEARER_TOKEN_BEDROCK; AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY
 * (+ AWS_SESSION_TOKEN).  Access keys sign the request with our SigV4
 * module (kg_sigv4.h explains why not curl's): the model id goes on the
 * wire URI-encoded once (`…-v1:0` as `…-v1%3A0`), and the signer signs
 * exactly the Host, path and body that curl sends.  We set Host
 * ourselves so that the signed value and the sent one cannot differ.
 */
#include "kg_aihttp.h"
#include "kg_buf.h"
#include "kg_config.h"
#include "kg_sigv4.h"

#include <stdlib.h>
#include <string.h>

/* Adds the "Name: value\n" lines the signer produced. */
static int
add_signed(struct curl_slist **list, const struct kg_buf *lines)
{
	const char *p = kg_buf_str(lines);

	while (*p) {
		size_t n = strcspn(p, "\n");
		char *line = strndup(p, n);
		struct curl_slist *l = line ? curl_slist_append(*list, line)
					    : NULL;

		free(line);
		if (!l)
			return -1;
		*list = l;
		p += n + (p[n] == '\n');
	}
	return 0;
}

static int
sign(struct curl_slist **headers, const char *host, const char *path,
     const char *body, struct kg_sigv4_creds *creds, struct kg_err *err)
{
	static const char *const extra[] = {
		"Content-Type: application/json", NULL};
	struct kg_sigv4_req r = {
		.method = "POST",
		.host = host,
		.path = path,
		.headers = extra,
		.body = body,
		.body_len = strlen(body),
		.region = kg_config_str("bedrock", "region"),
		.service = "bedrock",
	};
	struct kg_buf out = {0};
	int rc = kg_sigv4_sign(&r, creds, &out, err);

	if (rc == 0 && add_signed(headers, &out) < 0)
		rc = kg_err_set(err, 500, "internal", "out of memory");
	kg_buf_free(&out);
	return rc;
}

/* Authentication headers; -1 with a config error when there is none. */
static int
authenticate(struct curl_slist **headers, const char *host,
	     const char *path, const char *body, struct kg_err *err)
{
	const char *bearer = kg_config_str("bedrock", "api_key");
	struct kg_sigv4_creds c = {
		kg_config_str("bedrock", "access_key_id"),
		kg_config_str("bedrock", "secret_access_key"),
		kg_config_str("bedrock", "session_token"),
	};

	if (!*bearer && !(*c.access_key && *c.secret_key)) {
		bearer = getenv("AWS_BEARER_TOKEN_BEDROCK");
		bearer = bearer ? bearer : "";
		c.access_key = getenv("AWS_ACCESS_KEY_ID");
		c.secret_key = getenv("AWS_SECRET_ACCESS_KEY");
		c.session_token = getenv("AWS_SESSION_TOKEN");
	}
	if (*bearer) {
		struct kg_buf v = {0};
		int rc = kg_buf_printf(&v, "Bearer %s", bearer) < 0 ||
			 kg_aihttp_header(headers, "Authorization", v.data);

		kg_buf_free(&v);
		return rc ? kg_err_set(err, 500, "internal", "out of memory")
			  : 0;
	}
	if (!c.access_key || !*c.access_key || !c.secret_key ||
	    !*c.secret_key)
		return kg_err_set(err, 500, "config_invalid",
				  "no Bedrock credentials: set [bedrock] "
				  "api_key or access_key_id and "
				  "secret_access_key (or AWS_* variables)");
	return sign(headers, host, path, body, &c, err);
}

/* Splits base "scheme://authority/prefix" into host (authority) and
 * the path prefix. */
static int
split_base(const char *base, struct kg_buf *host, struct kg_buf *prefix)
{
	const char *a = strstr(base, "://") + 3;
	size_t n = strcspn(a, "/?#");

	if (!n || kg_buf_append(host, a, n) < 0 ||
	    kg_buf_puts(prefix, a + n) < 0)
		return -1;
	return 0;
}

static int
bedrock_start(struct kg_ai_call *call, struct kg_err *err)
{
	const char *model = kg_config_str("bedrock", "model_id");
	struct kg_buf base = {0}, host = {0}, path = {0}, url = {0};
	struct kg_aihttp_spec spec = {.model = model,
				      .parse = kg_aihttp_anthropic_parse};
	int rc = -1;

	if (*kg_config_str("bedrock", "endpoint"))
		kg_aihttp_base(&base, kg_config_str("bedrock", "endpoint"));
	else
		kg_buf_printf(&base, "https://bedrock-runtime.%s.amazonaws.com",
			      kg_config_str("bedrock", "region"));
	if (!base.len || split_base(base.data, &host, &path) < 0) {
		kg_err_set(err, 500, "config_invalid",
			   "[bedrock] endpoint is not an http(s) URL");
		goto out;
	}
	kg_buf_puts(&path, "/model/");
	kg_sigv4_uri_encode(&path, model, strlen(model), 0);
	kg_buf_puts(&path, "/invoke");
	/* scheme://host, then the path exactly as signed */
	kg_buf_append(&url, base.data,
		      (size_t)(strstr(base.data, "://") + 3 - base.data));
	kg_buf_printf(&url, "%s%s", host.data, path.data);
	spec.url = url.data;
	spec.body = kg_aihttp_anthropic_body(call->req);
	if (!spec.body || !url.data ||
	    kg_aihttp_header(&spec.headers, "Host", host.data) < 0 ||
	    kg_aihttp_header(&spec.headers, "Content-Type",
			     "application/json") < 0 ||
	    kg_aihttp_header(&spec.headers, "Accept", "application/json") < 0) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto out;
	}
	if (authenticate(&spec.headers, host.data, path.data, spec.body,
			 err) < 0)
		goto out;
	rc = kg_aihttp_start(call, &spec, err);	/* takes headers, body */
out:
	curl_slist_free_all(spec.headers);
	free(spec.body);
	kg_buf_free(&base);
	kg_buf_free(&host);
	kg_buf_free(&path);
	kg_buf_free(&url);
	return rc;
}

const struct kg_ai_ops kg_ai_bedrock = {
	"bedrock", bedrock_start, kg_aihttp_cancel,
};
