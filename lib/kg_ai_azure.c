/*
 * The "azure" provider: Azure OpenAI chat completions,
 *
 *   POST {endpoint}/openai/deployments/{deployment}/chat/completions
 *        ?api-version={api_version}
 *   endpoint = https://{resource}.openai.azure.com unless [azure]
 *              endpoint is set (tests, private endpoints)
 *
 * authenticated by the "api-key" header.  Azure names the model by the
 * deployment in the URL; [azure] model is the model behind it, used for
 * the ai_calls rows and the price table.  Azure's 429 carries
 * retry-after-ms as well as Retry-After; kg_aihttp honours both.
 */
#include "kg_aihttp.h"
#include "kg_buf.h"
#include "kg_config.h"
#include "kg_sigv4.h"

#include <stdlib.h>
#include <string.h>

static int
azure_url(struct kg_buf *url, struct kg_err *err)
{
	const char *endpoint = kg_config_str("azure", "endpoint");
	const char *dep = kg_config_str("azure", "deployment");
	const char *ver = kg_config_str("azure", "api_version");

	if (*endpoint) {
		if (kg_aihttp_base(url, endpoint) < 0)
			return kg_err_set(err, 500, "config_invalid",
					  "[azure] endpoint is not an "
					  "http(s) URL");
	} else if (*kg_config_str("azure", "resource")) {
		kg_buf_printf(url, "https://%s.openai.azure.com",
			      kg_config_str("azure", "resource"));
	} else {
		return kg_err_set(err, 500, "config_invalid",
				  "set [azure] resource or endpoint");
	}
	kg_buf_puts(url, "/openai/deployments/");
	kg_sigv4_uri_encode(url, dep, strlen(dep), 0);
	kg_buf_puts(url, "/chat/completions?api-version=");
	kg_sigv4_uri_encode(url, ver, strlen(ver), 0);
	return 0;
}

static int
azure_start(struct kg_ai_call *call, struct kg_err *err)
{
	const char *key = kg_config_str("azure", "api_key");
	struct kg_buf url = {0};
	int rc = -1;

	if (!*key) {
		kg_err_set(err, 500, "config_invalid",
			   "no Azure OpenAI key: set [azure] api_key");
		goto out;
	}
	if (azure_url(&url, err) < 0)
		goto out;
	rc = kg_aihttp_start_chat(call, url.data,
				  kg_config_str("azure", "model"), NULL,
				  "api-key", key, err);
out:
	kg_buf_free(&url);
	return rc;
}

const struct kg_ai_ops kg_ai_azure = {
	"azure", azure_start, kg_aihttp_cancel,
};
