/*
 * The local backend of kg_storage: files under [storage] local_dir.
 *
 * Atomic replacement: the bytes go to a temporary file (".tmp-XXXXXX",
 * a name no valid key can have) in the final directory, are fsync()ed,
 * then rename() puts them in place and the directory is fsync()ed so
 * the rename itself survives a crash.  A reader therefore never sees a
 * half-written file, and a failed write leaves nothing behind.
 *
 * The storage directory itself must exist (created at installation, or
 * by kgstack): a missing one usually means an unmounted volume, and
 * silently writing to the root file system instead would be worse than
 * answering 503.  Subdirectories of keys are created as needed.
 */
#include "kg_log.h"
#include "kg_storage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
unavailable(struct kg_err *err, const char *what, const char *path)
{
	int e = errno;

	KG_ERROR("local storage: %s %s: %s", what, path, strerror(e));
	return kg_err_set(err, 503, "storage_unavailable",
			  "file storage is not available (%s: %s)", what,
			  strerror(e));
}

static int
build_path(const char *dir, const char *key, char *path, size_t size,
	   struct kg_err *err)
{
	struct stat st;

	if (!kg_storage_key_valid(key))
		return kg_err_set(err, 500, "bad_storage_key",
				  "refusing an unsafe storage key");
	if (stat(dir, &st) < 0)
		return unavailable(err, "storage directory", dir);
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return unavailable(err, "storage directory", dir);
	}
	if ((size_t)snprintf(path, size, "%s/%s", dir, key) >= size)
		return kg_err_set(err, 500, "bad_storage_key",
				  "storage path too long");
	return 0;
}

/* mkdir -p of the directories between dir and the file (not dir). */
static int
make_parents(const char *path, size_t dirlen, struct kg_err *err)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + dirlen + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(tmp, 0750) < 0 && errno != EEXIST)
			return unavailable(err, "mkdir", tmp);
		*p = '/';
	}
	return 0;
}

static int
sync_dir(const char *file)
{
	char dir[PATH_MAX];
	char *slash;
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s", file);
	slash = strrchr(dir, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
kg_storage_local_put(const char *dir, const char *key, const void *data,
		     size_t len, struct kg_err *err)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	char *slash;
	int fd;

	if (build_path(dir, key, path, sizeof(path), err) < 0 ||
	    make_parents(path, strlen(dir), err) < 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s", path);
	slash = strrchr(tmp, '/');
	snprintf(slash + 1, sizeof(tmp) - (size_t)(slash + 1 - tmp),
		 ".tmp-XXXXXX");
	fd = mkstemp(tmp);
	if (fd < 0)
		return unavailable(err, "create", tmp);
	if (kg_buf_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		unavailable(err, "write", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	/* mkstemp makes 0600; the web server's programs may run as another
	 * user of the same group. */
	fchmod(fd, 0640);
	if (close(fd) < 0) {
		unavailable(err, "close", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		unavailable(err, "rename", path);
		unlink(tmp);
		return -1;
	}
	if (sync_dir(path) < 0)
		return unavailable(err, "fsync directory of", path);
	return 0;
}

static void
truncate_buf(struct kg_buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

int
kg_storage_local_get(const char *dir, const char *key, struct kg_buf *out,
		     size_t max, struct kg_err *err)
{
	char path[PATH_MAX];
	struct stat st;
	size_t before = out->len;
	int fd;

	if (build_path(dir, key, path, sizeof(path), err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return kg_err_set(err, 404, "not_found",
					  "stored file not found");
		return unavailable(err, "open", path);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return unavailable(err, "stat", path);
	}
	if ((unsigned long long)st.st_size > max) {
		close(fd);
		return kg_err_set(err, 413, "too_large", "stored file too large");
	}
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			truncate_buf(out, before);
			return unavailable(err, "read", path);
		}
		if (n == 0)
			break;
		if (out->len - before + (size_t)n > max ||
		    kg_buf_append(out, chunk, (size_t)n) < 0) {
			close(fd);
			truncate_buf(out, before);
			return kg_err_set(err, 413, "too_large",
					  "stored file too large");
		}
	}
	close(fd);
	return 0;
}

int
kg_storage_local_delete(const char *dir, const char *key, struct kg_err *err)
{
	char path[PATH_MAX];

	if (build_path(dir, key, path, sizeof(path), err) < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		return unavailable(err, "unlink", path);
	return 0;
}
