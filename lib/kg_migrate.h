/*
 * kg_migrate - applies the numbered SQL files of sql/ in order.
 *
 * Files are named NNN_description.sql.  Each pending file runs in its
 * own transaction together with its row in schema_migrations, so a
 * failing migration leaves nothing behind and is retried next time.  A
 * transaction-level advisory lock serialises concurrent runners (two
 * hosts deploying at once): the second waits, then sees the file applied
 * and skips it.  Running it again is a no-op.
 */
#ifndef KG_MIGRATE_H
#define KG_MIGRATE_H

#include <stddef.h>

#include "kg_err.h"

/* Returns the number of files applied, or -1 with err set. */
int kg_migrate(const char *sql_dir, struct kg_err *err);

/* The newest migration applied ("" for none) into out; 0, or -1 with
 * err (503 when the database is down). */
int kg_migrate_current(char *out, size_t size, struct kg_err *err);

#endif
