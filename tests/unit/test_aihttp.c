/*
 * Unit tests of kg_aihttp's pure parts: the Bedrock (Anthropic messages)
 * and chat-completions (Azure, OpenAI) bodies and answers, outcome
 * classification, Retry-After, error messages and the price table.
 * The answers are shaped like the providers' documented responses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kg_array.h"
#include "kg_aihttp.h"

static const struct kg_ai_request req = {
	.stage = "draft",
	.system = "Jesteś autorem wniosków.",
	.prompt = "Napisz sekcje „karty” projektu.",
	.max_tokens = 6000,
};

static cJSON *
parse(char *s)
{
	cJSON *o;

	assert_non_null(s);
	o = cJSON_Parse(s);
	free(s);
	assert_non_null(o);
	return o;
}

static const char *
str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void
test_anthropic_body(void **state)
{
	cJSON *o = parse(kg_aihttp_anthropic_body(&req)), *m;
	struct kg_ai_request bare = {.stage = "plan", .prompt = "x"};

	(void)state;
	assert_string_equal(str(o, "anthropic_version"), "bedrock-2023-05-31");
	assert_int_equal(cJSON_GetObjectItem(o, "max_tokens")->valueint, 6000);
	assert_string_equal(str(o, "system"), req.system);
	m = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "messages"), 0);
	assert_string_equal(str(m, "role"), "user");
	assert_string_equal(str(m, "content"), req.prompt);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "messages")),
			 1);
	cJSON_Delete(o);
	/* no system prompt -> no "system"; default max_tokens */
	o = parse(kg_aihttp_anthropic_body(&bare));
	assert_null(cJSON_GetObjectItem(o, "system"));
	assert_int_equal(cJSON_GetObjectItem(o, "max_tokens")->valueint, 4096);
	cJSON_Delete(o);
}

static void
test_anthropic_parse(void **state)
{
	static const char ok[] =
		"{\"id\":\"msg_bdrk_01\",\"type\":\"message\",\"role\":"
		"\"assistant\",\"model\":\"claude-3-5-sonnet-20240620\","
		"\"content\":[{\"type\":\"text\",\"text\":\"{\\\"a\\\": \"},"
		"{\"type\":\"text\",\"text\":\"1}\"}],\"stop_reason\":"
		"\"end_turn\",\"stop_sequence\":null,\"usage\":"
		"{\"input_tokens\":812,\"output_tokens\":97}}";
	struct kg_aihttp_reply r;
	char why[128];

	(void)state;
	assert_int_equal(kg_aihttp_anthropic_parse(ok, strlen(ok), &r, why,
					    sizeof(why)), 0);
	assert_string_equal(r.text, "{\"a\": 1}");
	assert_int_equal(r.tokens_in, 812);
	assert_int_equal(r.tokens_out, 97);
	free(r.text);
	/* no usage: -1 (the caller estimates) */
	assert_int_equal(kg_aihttp_anthropic_parse(
		"{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}", 41, &r,
		why, sizeof(why)), 0);
	assert_int_equal(r.tokens_in, -1);
	assert_int_equal(r.tokens_out, -1);
	free(r.text);
	/* truncated, not JSON, no text */
	assert_int_equal(kg_aihttp_anthropic_parse(ok, sizeof(ok) / 2, &r, why,
					    sizeof(why)), -1);
	assert_null(r.text);
	assert_non_null(strstr(why, "invalid JSON"));
	assert_int_equal(kg_aihttp_anthropic_parse("<html>", 6, &r, why, sizeof(why)),
			 -1);
	assert_int_equal(kg_aihttp_anthropic_parse("{\"content\":[]}", 14, &r, why,
					    sizeof(why)), -1);
	assert_non_null(strstr(why, "no text"));
	assert_int_equal(kg_aihttp_anthropic_parse(NULL, 0, &r, why, sizeof(why)),
			 -1);
}

static void
test_chat_body(void **state)
{
	cJSON *o = parse(kg_aihttp_chat_body(&req, NULL)), *msgs;

	(void)state;
	assert_null(cJSON_GetObjectItem(o, "model"));	/* Azure: in the URL */
	msgs = cJSON_GetObjectItem(o, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 2);
	assert_string_equal(str(cJSON_GetArrayItem(msgs, 0), "role"), "system");
	assert_string_equal(str(cJSON_GetArrayItem(msgs, 0), "content"),
			    req.system);
	assert_string_equal(str(cJSON_GetArrayItem(msgs, 1), "role"), "user");
	assert_string_equal(str(cJSON_GetArrayItem(msgs, 1), "content"),
			    req.prompt);
	assert_int_equal(cJSON_GetObjectItem(o, "max_tokens")->valueint, 6000);
	cJSON_Delete(o);
	o = parse(kg_aihttp_chat_body(&req, "llama3"));
	assert_string_equal(str(o, "model"), "llama3");
	cJSON_Delete(o);
}

static void
test_chat_parse(void **state)
{
	static const char azure[] =
		"{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\","
		"\"created\":1700000000,\"model\":\"gpt-4\",\"choices\":[{"
		"\"index\":0,\"finish_reason\":\"stop\",\"message\":{\"role\":"
		"\"assistant\",\"content\":\"Dzień dobry\"}}],\"usage\":{"
		"\"prompt_tokens\":19,\"completion_tokens\":10,"
		"\"total_tokens\":29}}";
	static const char filtered[] =
		"{\"choices\":[{\"finish_reason\":\"content_filter\","
		"\"message\":{\"role\":\"assistant\",\"content\":null}}]}";
	struct kg_aihttp_reply r;
	char why[128];

	(void)state;
	assert_int_equal(kg_aihttp_chat_parse(azure, strlen(azure), &r, why,
				       sizeof(why)), 0);
	assert_string_equal(r.text, "Dzień dobry");
	assert_int_equal(r.tokens_in, 19);
	assert_int_equal(r.tokens_out, 10);
	free(r.text);
	assert_int_equal(kg_aihttp_chat_parse(filtered, strlen(filtered), &r, why,
				       sizeof(why)), -1);
	assert_non_null(strstr(why, "no message content"));
	assert_int_equal(kg_aihttp_chat_parse("{\"choices\":[]}", 14, &r, why,
				       sizeof(why)), -1);
	assert_int_equal(kg_aihttp_chat_parse("{\"choices\":", 11, &r, why,
				       sizeof(why)), -1);
	assert_non_null(strstr(why, "invalid JSON"));
}

static void
test_classify(void **state)
{
	static const struct {
		CURLcode rc;
		long status;
		const char *outcome;
		int retryable;
	} t[] = {
		{CURLE_OK, 200, "ok", 0},
		{CURLE_OK, 429, "rate_limited", 1},
		{CURLE_OK, 500, "error", 1},
		{CURLE_OK, 503, "error", 1},
		{CURLE_OK, 408, "timeout", 1},
		{CURLE_OK, 400, "error", 0},
		{CURLE_OK, 401, "error", 0},
		{CURLE_OK, 403, "error", 0},
		{CURLE_OK, 404, "error", 0},
		{CURLE_OPERATION_TIMEDOUT, 0, "timeout", 1},
		{CURLE_PARTIAL_FILE, 200, "error", 1},	/* truncated body */
		{CURLE_COULDNT_CONNECT, 0, "error", 1},
	};

	(void)state;
	for (size_t i = 0; i < KG_COUNT(t); i++) {
		struct kg_aihttp_outcome o = kg_aihttp_classify(t[i].rc,
							    t[i].status);

		assert_string_equal(o.outcome, t[i].outcome);
		assert_int_equal(o.retryable, t[i].retryable);
	}
}

static void
test_retry_after(void **state)
{
	time_t now = 784111777;		/* Sun, 06 Nov 1994 08:49:37 GMT */

	(void)state;
	assert_int_equal(kg_aihttp_retry_after("2", NULL, now), 2000);
	assert_int_equal(kg_aihttp_retry_after("0", NULL, now), 0);
	assert_int_equal(kg_aihttp_retry_after("2", "750", now), 750);
	assert_int_equal(kg_aihttp_retry_after(NULL, "1500", now), 1500);
	assert_int_equal(kg_aihttp_retry_after(
		"Sun, 06 Nov 1994 08:49:40 GMT", NULL, now), 3000);
	assert_int_equal(kg_aihttp_retry_after(
		"Sun, 06 Nov 1994 08:49:00 GMT", NULL, now), 0);
	assert_int_equal(kg_aihttp_retry_after("soon", NULL, now), -1);
	assert_int_equal(kg_aihttp_retry_after("-3", NULL, now), -1);
	assert_int_equal(kg_aihttp_retry_after("", "", now), -1);
	assert_int_equal(kg_aihttp_retry_after(NULL, NULL, now), -1);
}

static void
test_error_message(void **state)
{
	static const char aws[] =
		"{\"message\":\"The request signature we calculated does not "
		"match the signature you provided.\\n\\nThe Canonical String "
		"for this request should have been\\n'POST\\n/model/x'\"}";
	static const char azure[] =
		"{\"error\":{\"code\":\"429\",\"message\":\"Requests to the "
		"ChatCompletions_Create Operation have exceeded the rate "
		"limit.\"}}";
	static const char pl[] = "{\"message\":\"Błąd serwera\"}";
	static const char zz[] = "{\"message\":\"żżżżżż\"}";
	char out[256], small[12];

	(void)state;
	kg_aihttp_error_message(aws, strlen(aws), out, sizeof(out));
	assert_string_equal(out, "The request signature we calculated does "
				 "not match the signature you provided.");
	kg_aihttp_error_message(azure, strlen(azure), out, sizeof(out));
	assert_string_equal(out, "Requests to the ChatCompletions_Create "
				 "Operation have exceeded the rate limit.");
	kg_aihttp_error_message("{\"Message\":\"Bad\"}", 17, out, sizeof(out));
	assert_string_equal(out, "Bad");
	kg_aihttp_error_message("{\"error\":\"model not found\"}", 27, out,
				sizeof(out));
	assert_string_equal(out, "model not found");
	kg_aihttp_error_message("Bad Gateway\r\n<html>", 19, out, sizeof(out));
	assert_string_equal(out, "Bad Gateway");
	kg_aihttp_error_message(NULL, 0, out, sizeof(out));
	assert_string_equal(out, "");
	/* cut without splitting a UTF-8 character: "Błąd" ... */
	kg_aihttp_error_message(pl, strlen(pl), small, sizeof(small));
	assert_string_equal(small, "Błąd serw");
	kg_aihttp_error_message(zz, strlen(zz), small, 6);
	assert_string_equal(small, "żż");
}

static void
test_price(void **state)
{
	static const char table[] =
		"anthropic.claude-3-5-sonnet-20240620-v1:0=0.003:0.015, "
		"gpt-4=0.03:0.06 ,meta-llama/Llama-3-8B=0:0";
	double c;

	(void)state;
	assert_int_equal(kg_aihttp_price(table,
				     "anthropic.claude-3-5-sonnet-20240620-v1:0",
				     1000, 500, &c), 0);
	assert_true(c > 0.0104999 && c < 0.0105001);
	assert_int_equal(kg_aihttp_price(table, "gpt-4", 2000, 1000, &c), 0);
	assert_true(c > 0.1199999 && c < 0.1200001);
	assert_int_equal(kg_aihttp_price(table, "meta-llama/Llama-3-8B", 5, 5, &c),
			 0);
	assert_true(c == 0.0);
	/* unknown model, prefix of a known one, malformed entries */
	assert_int_equal(kg_aihttp_price(table, "gpt-4o", 10, 10, &c), -1);
	assert_true(c == 0.0);
	assert_int_equal(kg_aihttp_price(table, "gpt", 10, 10, &c), -1);
	assert_int_equal(kg_aihttp_price("gpt-4=0.03", "gpt-4", 1, 1, &c), -1);
	assert_int_equal(kg_aihttp_price("gpt-4=x:0.06", "gpt-4", 1, 1, &c), -1);
	assert_int_equal(kg_aihttp_price("gpt-4=-1:0.06", "gpt-4", 1, 1, &c), -1);
	assert_int_equal(kg_aihttp_price("", "gpt-4", 1, 1, &c), -1);
	assert_int_equal(kg_aihttp_price(table, NULL, 1, 1, &c), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_anthropic_body),
		cmocka_unit_test(test_anthropic_parse),
		cmocka_unit_test(test_chat_body),
		cmocka_unit_test(test_chat_parse),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_error_message),
		cmocka_unit_test(test_price),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
