/*
 * kg_config - the INI configuration file plus KARTOGRAF_* overrides.
 *
 * Every key the software understands is declared once, in the table in
 * kg_config.c, with its type, default and bounds.  Loading validates the
 * whole file against that table, so a typo in a key name or a value out
 * of range stops the program at start-up with a message naming the key,
 * instead of surfacing as odd behaviour days later.  After a successful
 * load the typed getters cannot fail.
 *
 * Sources, later ones win: built-in default, the file
 * ($KARTOGRAF_CONFIG, else the path named in the file .kartograf-config
 * beside the program - the shared-hosting install - else
 * /etc/kartograf/kartograf.conf), then the
 * environment variable KARTOGRAF_<SECTION>_<KEY> (upper case), e.g.
 * KARTOGRAF_DATABASE_CONNINFO.
 *
 * Keys of type secret (passwords, signing keys) are never printed, not
 * even by `kartograf-admin config-check`.
 */
#ifndef KG_CONFIG_H
#define KG_CONFIG_H

#include "kg_err.h"

#include <stddef.h>

#define KG_CONFIG_DEFAULT_PATH "/etc/kartograf/kartograf.conf"
#define KG_CONFIG_POINTER ".kartograf-config"

/*
 * Load and validate the configuration and make it the current one.
 * `path` NULL means $KARTOGRAF_CONFIG, the pointer or the default path.  On failure
 * the previous configuration (if any) stays current, `err` names the
 * first problem and -1 is returned.  Safe to call again (SIGHUP reload).
 */
int kg_config_load(const char *path, struct kg_err *err);

/*
 * Validate without installing: calls `report` once per problem and
 * returns the number of problems (0 = valid).
 */
int kg_config_check(const char *path, void (*report)(const char *msg));

/* Print every key as "[section] key = value", secrets masked (and the
 * password inside [database] conninfo). */
void kg_config_print(void (*out)(const char *line));

/*
 * Copies a libpq connection string (keyword=value list or
 * postgresql:// URI) to `out` with every password replaced by ***.
 */
void kg_config_mask_conninfo(const char *in, char *out, size_t size);

const char *kg_config_path(void);
void kg_config_free(void);

/* Typed getters; asking for an undeclared key is a programming error
 * and aborts. */
const char *kg_config_str(const char *section, const char *key);
long long kg_config_int(const char *section, const char *key);
int kg_config_bool(const char *section, const char *key);

#endif
