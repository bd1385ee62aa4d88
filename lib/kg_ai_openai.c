/*
 * The "openai" provider: any server that speaks OpenAI's chat
 * completions (OpenAI itself, a local llama.cpp server, Ollama, vLLM):
 *
 *   POST {base_url}/chat/completions     e.g. http://127.0.0.1:8080/v1
 *
 * with "Authorization: Bearer {api_key}" when a key is configured (local
 * servers usually want none) and [openai] model in the body.
 */
#include "kg_aihttp.h"
#include "kg_buf.h"
#include "kg_config.h"

#include <stdlib.h>
#include <string.h>

static int
openai_start(struct kg_ai_call *call, struct kg_err *err)
{
	const char *key = kg_config_str("openai", "api_key");
	const char *model = kg_config_str("openai", "model");
	struct kg_buf url = {0}, auth = {0};
	int rc = -1;

	if (kg_aihttp_base(&url, kg_config_str("openai", "base_url")) < 0) {
		kg_err_set(err, 500, "config_invalid",
			   "[openai] base_url is not an http(s) URL");
		goto out;
	}
	kg_buf_puts(&url, "/chat/completions");
	if (*key && kg_buf_printf(&auth, "Bearer %s", key) < 0) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto out;
	}
	rc = kg_aihttp_start_chat(call, url.data, model, model,
				  "Authorization", *key ? auth.data : "", err);
out:
	kg_buf_free(&url);
	kg_buf_free(&auth);
	return rc;
}

const struct kg_ai_ops kg_ai_openai = {
	"openai", openai_start, kg_aihttp_cancel,
};
