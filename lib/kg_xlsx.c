#include "kg_xlsx.h"
#include "kg_array.h"
#include "kg_xmlscan.h"

#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

/*
 * expat joins a namespaced name as "URI<sep>local".  A space cannot occur
 * in a URI, so it is an unambiguous separator.
 */
#define NS_SEP ' '
#define CHUNK 65536
/*
 * What feed() asks expat's buffer for and inflates into it: a little less
 * than CHUNK, so that a read plus the incomplete token expat keeps from
 * the previous one plus its 1 KiB of context still fit in the 64 KiB
 * buffer of the first read.  Asking for the whole CHUNK made expat grow
 * its buffer to ~128 KiB on the second read (and hold both while it
 * copied): ~130 KiB of the reader's peak for nothing.
 */
#define XML_READ (CHUNK - 4096)
#define RATIO_FLOOR ((uint64_t)1024 * 1024)
#define MAX_PATH 512
#define MAX_LIST 10000	/* sheets, relationships, styles, formats */
#define EXCEL_MAX_ROW 1048576u
#define EXCEL_MAX_COL 16384u
/* What fixes a package Excel can still open: it repairs it on opening
 * and writes a clean one. */
#define REPAIR_HINT "otwórz plik w Excelu i zapisz ponownie"

/* A namespace URI with its length, measured once, not per element. */
struct ns {
	const char *uri;
	size_t len;
};

#define NS(uri) {uri, sizeof(uri) - 1}
static const struct ns ns_main[] = {
	NS("http://schemas.openxmlformats.org/spreadsheetml/2006/main"),
	NS("http://purl.oclc.org/ooxml/spreadsheetml/main"), {NULL, 0}};
static const struct ns ns_pkg[] = {
	NS("http://schemas.openxmlformats.org/package/2006/relationships"),
	{NULL, 0}};
static const struct ns ns_rel[] = {
	NS("http://schemas.openxmlformats.org/officeDocument/2006/"
	   "relationships"),
	NS("http://purl.oclc.org/ooxml/officeDocument/relationships"),
	{NULL, 0}};

/* ---- XML plumbing ---------------------------------------------------- */

/* First member of every parser's state, so expat's user data can be
 * treated as this in the shared handlers. */
struct xml_base {
	XML_Parser p;		/* expat, or NULL while scanned */
	struct kg_xmlscan *scan;	/* kg_xmlscan, or NULL */
	struct kg_err *err;
	int failed;	/* err is set; ignore whatever expat still calls */
	int done;	/* stopped on purpose, not an error */
	int plain;	/* no namespace processing by expat: struct xns */
	const char *name;	/* the entry, for messages */
};

/* Stop the parser, whichever it is, after this handler. */
static void
xml_halt(struct xml_base *b)
{
	if (b->scan)
		kg_xmlscan_stop(b->scan);
	else
		XML_StopParser(b->p, XML_FALSE);
}

static void
xml_stop(struct xml_base *b)
{
	b->failed = 1;
	xml_halt(b);
}

/*
 * The local part of `name` (expat's "URI local" or plain "local") when it
 * is in one of the namespaces `ns`, else NULL.  A name in no namespace is
 * accepted too: hand-made files sometimes drop xmlns, and nothing else
 * could be meant.  The URI is compared first, without scanning the name,
 * because this runs for every element of the sheet.
 */
static const char *
xlocal(const char *name, const struct ns *ns)
{
	for (; ns->uri; ns++)
		if (!strncmp(name, ns->uri, ns->len) && name[ns->len] == NS_SEP)
			return name + ns->len + 1;
	return strchr(name, NS_SEP) ? NULL : name;
}

static int
xname_is(const char *name, const struct ns *ns, const char *local)
{
	const char *l = xlocal(name, ns);

	return l && !strcmp(l, local);
}

static const char *
xattr(const char **atts, const struct ns *ns, const char *local)
{
	for (; atts[0]; atts += 2)
		if (ns ? strchr(atts[0], NS_SEP) &&
			     xname_is(atts[0], ns, local)
		       : !strcmp(atts[0], local))
			return atts[1];
	return NULL;
}

/*
 * Namespaces for the two big parts, the worksheet and the shared
 * strings.  expat's namespace processing joins the URI to every element
 * name ("http://schemas.openxmlformats.org/spreadsheetml/2006/main c"),
 * and comparing that URI twice per element was a tenth of reading a
 * sheet.  These parts are therefore parsed by a plain expat parser,
 * which hands out names as written ("c", "x:c") and the xmlns
 * declarations as attributes, and the declarations in scope are kept
 * here: an element is SpreadsheetML's when its prefix (or, without one,
 * the default namespace) is bound to one of ns_main's URIs, or when no
 * default namespace is declared at all (as xlocal()).  What expat's
 * namespace processing refuses and a plain parser does not is refused
 * here in its words: an unbound prefix on an element or an attribute,
 * and a prefix declared empty ("xmlns:p=\"\"").
 */
enum xns_kind { XNS_NONE, XNS_MAIN, XNS_OTHER };

#define XNS_MAX 64		/* declarations in scope at once */
#define XNS_PREFIX 32		/* longest prefix + 1 */

struct xns {
	unsigned depth;		/* open elements */
	unsigned n;		/* declarations in scope */
	enum xns_kind def;	/* the default namespace in scope */
	struct {
		unsigned depth;	/* of the element that declared it */
		enum xns_kind kind, prev_def;
		char prefix[XNS_PREFIX];	/* "" for the default */
	} b[XNS_MAX];
};

static enum xns_kind
xns_kind_of(const char *uri)
{
	const struct ns *ns;

	if (!*uri)
		return XNS_NONE;
	for (ns = ns_main; ns->uri; ns++)
		if (!strcmp(uri, ns->uri))
			return XNS_MAIN;
	return XNS_OTHER;
}

/* The kind of `prefix` (plen bytes); -1 when it is bound nowhere. */
static int
xns_lookup(const struct xns *x, const char *prefix, size_t plen)
{
	unsigned i;

	for (i = x->n; i-- > 0;)
		if (!strncmp(x->b[i].prefix, prefix, plen) &&
		    !x->b[i].prefix[plen] && plen)
			return (int)x->b[i].kind;
	return plen == 3 && !strncmp(prefix, "xml", 3) ? XNS_OTHER : -1;
}

/* NULL, or why the declaration is refused. */
static const char *
xns_declare(struct xns *x, const char *att, const char *uri)
{
	size_t plen = att[5] ? strlen(att + 6) : 0;

	if (plen && !*uri)
		return "must not undeclare prefix";	/* expat's words */
	if (x->n == XNS_MAX || plen >= XNS_PREFIX)
		return "more namespace declarations or longer prefixes than "
		       "a workbook has";
	x->b[x->n].depth = x->depth;
	x->b[x->n].kind = xns_kind_of(uri);
	x->b[x->n].prev_def = x->def;
	memcpy(x->b[x->n].prefix, att + 6 - !plen, plen + 1);
	x->b[x->n].prefix[plen] = '\0';
	if (!plen)
		x->def = x->b[x->n].kind;
	x->n++;
	return NULL;
}

/* The local part of an element name when it is SpreadsheetML's, else
 * NULL; *bad when its prefix is bound nowhere. */
static const char *
xns_local(const struct xns *x, const char *name, int *bad)
{
	const char *colon = name;
	int kind;

	while (*colon && *colon != ':')	/* names are short: no strchr */
		colon++;
	if (!*colon)
		return x->def == XNS_OTHER ? NULL : name;
	kind = xns_lookup(x, name, (size_t)(colon - name));
	if (kind < 0)
		*bad = 1;
	return kind == XNS_MAIN ? colon + 1 : NULL;
}

/* In the words expat's namespace processing would have used. */
static void
xns_refuse(struct xml_base *b, const char *why)
{
	kg_err_set(b->err, 400, "bad_xlsx",
		   "%s is not well-formed XML (line %lu: %s)", b->name,
		   b->p ? (unsigned long)XML_GetCurrentLineNumber(b->p) : 0ul,
		   why);
	xml_stop(b);
}

/* A start tag: its declarations taken, its attributes' prefixes
 * checked; the element's local name as xns_local(), NULL also when the
 * tag is refused (b->why). */
static const char *
xns_start(struct xns *x, struct xml_base *b, const char *name,
	  const char **atts)
{
	const char **a, *colon, *l, *why;
	int bad = 0;

	x->depth++;
	for (a = atts; a[0]; a += 2)
		if (a[0][0] == 'x' && !strncmp(a[0], "xmlns", 5) &&
		    (!a[0][5] || a[0][5] == ':') &&
		    (why = xns_declare(x, a[0], a[1]))) {
			xns_refuse(b, why);
			return NULL;
		}
	/* the prefixes of the attributes, once all declarations are in */
	for (a = atts; a[0]; a += 2) {
		for (colon = a[0]; *colon && *colon != ':';)
			colon++;
		if (*colon && strncmp(a[0], "xmlns:", 6) &&
		    xns_lookup(x, a[0], (size_t)(colon - a[0])) < 0)
			bad = 1;
	}
	l = xns_local(x, name, &bad);
	if (bad) {
		xns_refuse(b, "unbound prefix");
		return NULL;
	}
	return l;
}

/* An end tag: the local name as xns_local(); xns_end_done() after it. */
static const char *
xns_end(struct xns *x, const char *name)
{
	int bad = 0;

	return xns_local(x, name, &bad);
}

static void
xns_end_done(struct xns *x)
{
	while (x->n && x->b[x->n - 1].depth == x->depth) {
		x->n--;
		x->def = x->b[x->n].prev_def;
	}
	x->depth--;
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
	   const XML_Char *pubid, int has_internal_subset)
{
	struct xml_base *b = ud;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	kg_err_set(b->err, 400, "xml_forbidden",
		   "document type declarations are not allowed");
	xml_stop(b);
}

static void XMLCALL
on_entity(void *ud, const XML_Char *name, int is_param,
	  const XML_Char *value, int value_len, const XML_Char *base,
	  const XML_Char *sysid, const XML_Char *pubid,
	  const XML_Char *notation)
{
	(void)name, (void)is_param, (void)value, (void)value_len;
	(void)base, (void)sysid, (void)pubid, (void)notation;
	on_doctype(ud, NULL, NULL, NULL, 0);
}

/* ---- the archive ----------------------------------------------------- */

struct zipctx {
	zip_t *za;
	const struct kg_sheet_limits *lim;
	size_t len;		/* archive bytes */
	uint64_t inflated;	/* bytes zip_fread returned, all entries */
	struct kg_xlsx_how *how;	/* which parser reads the big parts */
	size_t chunk;		/* bytes inflated per parser call */
};

/* Absolute or with a ".." segment: never read, as if absent. */
static int
name_unsafe(const char *n)
{
	const char *p = n;

	if (*n == '/' || *n == '\\' || strchr(n, ':'))
		return 1;
	while (*p) {
		if (p[0] == '.' && p[1] == '.' &&
		    (p[2] == '/' || p[2] == '\\' || !p[2]))
			return 1;
		p += strcspn(p, "/\\");
		if (*p)
			p++;
	}
	return 0;
}

/* OPC part names compare case-insensitively; some Windows exporters
 * write "xl\\worksheets\\sheet1.xml", which Excel opens, so a backslash
 * matches a slash. */
static int
part_name_eq(const char *name, const char *want)
{
	unsigned char a, b;

	for (;; name++, want++) {
		a = (unsigned char)*name;
		b = (unsigned char)*want;
		a = a == '\\' ? '/' : (unsigned char)tolower(a);
		b = b == '\\' ? '/' : (unsigned char)tolower(b);
		if (a != b)
			return 0;
		if (!a)
			return 1;
	}
}

/* An entry name the archive holds twice (which Excel repairs and
 * Python's zipfile allows) is the LAST one, as Python's zipfile and
 * calamine read it. */
static zip_int64_t
find_entry(struct zipctx *z, const char *want)
{
	zip_int64_t i, n = zip_get_num_entries(z->za, 0), found = -1;
	const char *name;

	for (i = 0; i < n; i++) {
		name = zip_get_name(z->za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
		if (name && !name_unsafe(name) && part_name_eq(name, want))
			found = i;
	}
	return found;
}

/*
 * Count what was actually inflated.  The compressed size is the one
 * header figure we use, and only clamped to the archive's real length,
 * so a lying header can make the ratio check stricter, never looser; the
 * absolute total is counted regardless.
 */
static int
charge(struct zipctx *z, const char *name, uint64_t entry, uint64_t comp,
       struct kg_err *err)
{
	if (z->inflated > z->lim->max_uncompressed)
		return kg_err_set(err, 400, "zip_bomb",
				  "the file inflates to more than %zu MiB",
				  z->lim->max_uncompressed >> 20);
	if (entry > RATIO_FLOOR &&
	    entry > (comp ? comp : 1) * (uint64_t)z->lim->max_ratio)
		return kg_err_set(err, 400, "zip_bomb",
				  "%s is compressed more than %u:1", name,
				  z->lim->max_ratio);
	return 0;
}

static int
xml_failed(XML_Parser p, struct xml_base *b, const char *name,
	   struct kg_err *err)
{
	if (b->failed)
		return -1;
	return kg_err_set(err, 400, "bad_xlsx",
			  "%s is not well-formed XML (line %lu: %s)", name,
			  (unsigned long)XML_GetCurrentLineNumber(p),
			  XML_ErrorString(XML_GetErrorCode(p)));
}

/* What parse_with() returns when kg_xmlscan gave up on the part. */
#define SCAN_BAILED 2

/* Room for the next piece in b's parser; NULL: out of memory, or the
 * scanner gives up. */
static void *
xml_buffer(struct xml_base *b, size_t want)
{
	return b->scan ? kg_xmlscan_buffer(b->scan, want)
		       : XML_GetBuffer(b->p, (int)want);
}

/*
 * The next n bytes (0: the end) through b's parser.  0 to go on, or
 * when a handler stopped it on purpose (b->done); -1 on an error; for
 * the scanner, SCAN_BAILED on anything it does not accept - an error a
 * handler found included, so that expat reads the part again and the
 * error comes in its words, found where expat finds it.
 */
static int
xml_parse(struct xml_base *b, size_t n, struct kg_err *err)
{
	enum kg_xmlscan_status st;

	if (b->scan) {
		st = kg_xmlscan_parse(b->scan, n, n == 0);
		return st == KG_XMLSCAN_BAIL || b->failed ? SCAN_BAILED : 0;
	}
	if (XML_ParseBuffer(b->p, (int)n, n == 0) == XML_STATUS_ERROR) {
		if (b->failed)
			return -1;
		return b->done ? 0 : xml_failed(b->p, b, b->name, err);
	}
	return 0;
}

static int
feed(struct zipctx *z, zip_file_t *zf, uint64_t comp, struct xml_base *b,
     const char *name, struct kg_err *err)
{
	uint64_t entry = 0;
	zip_int64_t n;
	void *buf;
	int rc;

	for (;;) {
		if (!(buf = xml_buffer(b, z->chunk)))
			return b->scan ? SCAN_BAILED
				       : kg_err_set(err, 500, "internal",
						    "out of memory");
		n = zip_fread(zf, buf, z->chunk);
		if (n < 0)
			return kg_err_set(err, 400, "damaged",
					  "the file is damaged or truncated "
					  "(%s: %s); " REPAIR_HINT, name,
					  zip_file_strerror(zf));
		entry += (uint64_t)n;
		z->inflated += (uint64_t)n;
		if (charge(z, name, entry, comp, err) < 0)
			return -1;
		if ((rc = xml_parse(b, (size_t)n, err)) != 0 || b->done ||
		    n == 0)
			return rc;
	}
}

/*
 * Parse entry `name` with the given handlers and user data `b` (which
 * starts with struct xml_base), by expat, or with `scan` by kg_xmlscan.
 * Returns 0, 1 if the entry is absent, -1 on error, SCAN_BAILED.
 */
static int
parse_with(struct zipctx *z, const char *name, struct xml_base *b,
	   XML_StartElementHandler start, XML_EndElementHandler end,
	   XML_CharacterDataHandler text, int scan, struct kg_err *err)
{
	zip_int64_t idx = find_entry(z, name);
	struct kg_xmlscan sc;
	zip_file_t *zf = NULL;
	XML_Parser p = NULL;
	zip_stat_t st;
	uint64_t comp = z->len;
	int rc = -1;

	if (idx < 0)
		return 1;
	zip_stat_init(&st);
	if (zip_stat_index(z->za, (zip_uint64_t)idx, 0, &st) == 0 &&
	    (st.valid & ZIP_STAT_COMP_SIZE) && st.comp_size < comp)
		comp = st.comp_size;
	if (!(zf = zip_fopen_index(z->za, (zip_uint64_t)idx, 0))) {
		kg_err_set(err, 400, "damaged", "cannot read %s: %s; "
			   REPAIR_HINT, name, zip_strerror(z->za));
		goto out;
	}
	b->err = err;
	b->name = name;
	if (scan) {
		kg_xmlscan_init(&sc, start, end, text, b);
		b->scan = &sc;
		rc = feed(z, zf, comp, b, name, err);
		kg_xmlscan_free(&sc);
		b->scan = NULL;
		goto out;
	}
	if (!(p = b->plain ? XML_ParserCreate(NULL)
			   : XML_ParserCreateNS(NULL, NS_SEP))) {
		kg_err_set(err, 500, "internal", "out of memory");
		goto out;
	}
	b->p = p;
	XML_SetUserData(p, b);
	XML_SetStartDoctypeDeclHandler(p, on_doctype);
	XML_SetEntityDeclHandler(p, on_entity);
	XML_SetElementHandler(p, start, end);
	XML_SetCharacterDataHandler(p, text);
	rc = feed(z, zf, comp, b, name, err);
	b->p = NULL;
out:
	if (p)
		XML_ParserFree(p);
	if (zf)
		zip_fclose(zf);
	return rc;
}

static int
parse_entry(struct zipctx *z, const char *name, struct xml_base *b,
	    XML_StartElementHandler start, XML_EndElementHandler end,
	    XML_CharacterDataHandler text, struct kg_err *err)
{
	return parse_with(z, name, b, start, end, text, 0, err);
}

/*
 * The worksheet and the shared strings, the two big parts: read by
 * kg_xmlscan when they keep to its subset (kg_xmlscan.h), which is
 * every file we have seen an exporter write; anything else - a comment,
 * a DOCTYPE, another encoding, an error of any kind - and the scanner
 * gives up, reset(b) puts b back as it was, and expat reads the WHOLE
 * part from its start, as if the scanner had never been there.
 */
static int
parse_big(struct zipctx *z, const char *name, struct xml_base *b,
	  XML_StartElementHandler start, XML_EndElementHandler end,
	  XML_CharacterDataHandler text,
	  int (*reset)(struct xml_base *b, struct kg_err *err),
	  struct kg_err *err)
{
	uint64_t inflated = z->inflated;
	int rc;

	if (z->how->parser != KG_XLSX_EXPAT) {
		rc = parse_with(z, name, b, start, end, text, 1, err);
		if (rc != SCAN_BAILED) {
			z->how->scanned += rc != 1;
			return rc;
		}
		z->how->fell_back++;
		/* the part is inflated again: counted once, as by expat */
		z->inflated = inflated;
		kg_err_clear(err);
		if (reset(b, err) < 0)
			return -1;
	}
	return parse_with(z, name, b, start, end, text, 0, err);
}

/* ---- paths ----------------------------------------------------------- */

/*
 * Resolve a relationship target against the directory of its source part
 * (`dir` ends in '/' or is "").  ".." segments are applied here, to the
 * name we look up; one that climbs out of the package fails.
 */
static int
resolve(const char *dir, const char *target, char out[MAX_PATH])
{
	char tmp[2 * MAX_PATH];
	size_t n = 0, seg;
	char *p, *save = NULL;

	if (strlen(dir) + strlen(target) >= MAX_PATH)
		return -1;
	if (target[0] == '/' || target[0] == '\\')
		snprintf(tmp, sizeof(tmp), "%s", target + 1);
	else
		snprintf(tmp, sizeof(tmp), "%s%s", dir, target);
	out[0] = '\0';
	for (p = strtok_r(tmp, "/\\", &save); p;
	     p = strtok_r(NULL, "/\\", &save)) {
		if (!strcmp(p, "."))
			continue;
		if (!strcmp(p, "..")) {
			if (!n)
				return -1;
			while (n && out[n - 1] != '/')
				n--;
			if (n)
				n--;
			out[n] = '\0';
			continue;
		}
		seg = strlen(p);
		if (n + seg + 2 >= MAX_PATH)
			return -1;
		if (n)
			out[n++] = '/';
		memcpy(out + n, p, seg + 1);
		n += seg;
	}
	return n ? 0 : -1;
}

/* "xl/workbook.xml" -> dir "xl/", rels "xl/_rels/workbook.xml.rels". */
static int
part_dir(const char *part, char dir[MAX_PATH], char rels[MAX_PATH])
{
	const char *slash = strrchr(part, '/');
	size_t n = slash ? (size_t)(slash - part) + 1 : 0;
	size_t len = strlen(part);

	if (len + sizeof("_rels/.rels") > MAX_PATH)
		return -1;
	memcpy(dir, part, n);
	dir[n] = '\0';
	memcpy(rels, part, n);
	memcpy(rels + n, "_rels/", 6);
	memcpy(rels + n + 6, part + n, len - n);
	memcpy(rels + len + 6, ".rels", 6);
	return 0;
}

/* ---- relationships (_rels/.rels, xl/_rels/workbook.xml.rels) --------- */

enum rel_kind { REL_OTHER, REL_OFFICE, REL_SHEET, REL_SST, REL_STYLES };

struct rel {
	enum rel_kind kind;
	char *id;
	char *target;
};

struct rels {
	struct xml_base b;
	struct rel *v;
	size_t n;
};

static enum rel_kind
rel_kind(const char *type)
{
	static const struct {
		const char *suffix;
		enum rel_kind kind;
	} kinds[] = {{"/officeDocument", REL_OFFICE},
		     {"/worksheet", REL_SHEET},
		     {"/sharedStrings", REL_SST},
		     {"/styles", REL_STYLES}};
	size_t i, n = strlen(type), k;

	/* Types are URIs that differ between Transitional and Strict only
	 * in their prefix; the last segment names the kind. */
	for (i = 0; i < KG_COUNT(kinds); i++) {
		k = strlen(kinds[i].suffix);
		if (n >= k && !strcmp(type + n - k, kinds[i].suffix))
			return kinds[i].kind;
	}
	return REL_OTHER;
}

static void XMLCALL
rels_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct rels *r = ud;
	const char *id, *type, *target, *mode;
	enum rel_kind kind;
	struct rel *v;

	if (r->b.failed || !xname_is(name, ns_pkg, "Relationship"))
		return;
	id = xattr(atts, NULL, "Id");
	type = xattr(atts, NULL, "Type");
	target = xattr(atts, NULL, "Target");
	mode = xattr(atts, NULL, "TargetMode");
	if (!id || !type || !target || (mode && !strcmp(mode, "External")))
		return;
	if ((kind = rel_kind(type)) == REL_OTHER)
		return;
	if (r->n >= MAX_LIST) {
		kg_err_set(r->b.err, 400, "bad_xlsx",
			   "too many relationships");
		xml_stop(&r->b);
		return;
	}
	if (!(v = realloc(r->v, (r->n + 1) * sizeof(*v))))
		goto oom;
	r->v = v;
	v[r->n].kind = kind;
	v[r->n].id = strdup(id);
	v[r->n].target = strdup(target);
	r->n++;
	if (!v[r->n - 1].id || !v[r->n - 1].target)
		goto oom;
	return;
oom:
	kg_err_set(r->b.err, 500, "internal", "out of memory");
	xml_stop(&r->b);
}

static void XMLCALL
ignore_end(void *ud, const XML_Char *name)
{
	(void)ud;
	(void)name;
}

static void
rels_free(struct rels *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].id);
		free(r->v[i].target);
	}
	free(r->v);
}

/* Target of the first relationship of `kind` (and `id`, if given). */
static const char *
rels_find(const struct rels *r, enum rel_kind kind, const char *id)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (r->v[i].kind == kind && (!id || !strcmp(r->v[i].id, id)))
			return r->v[i].target;
	return NULL;
}

/* ---- workbook.xml ---------------------------------------------------- */

struct workbook {
	struct xml_base b;
	int is_workbook;	/* the root is SpreadsheetML's <workbook> */
	int date1904;
	char **rid;	/* r:id of each sheet, in workbook order */
	unsigned char *hidden;
	size_t n;
};

static int
xbool(const char *v)
{
	return v && (!strcmp(v, "1") || !strcmp(v, "true"));
}

static void XMLCALL
wb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct workbook *w = ud;
	const char *rid, *state;
	char **v;
	unsigned char *h;

	if (w->b.failed)
		return;
	if (xname_is(name, ns_main, "workbook"))
		w->is_workbook = 1;
	if (xname_is(name, ns_main, "workbookPr")) {
		w->date1904 = xbool(xattr(atts, NULL, "date1904"));
		return;
	}
	if (!xname_is(name, ns_main, "sheet") || w->n >= MAX_LIST)
		return;
	if (!(rid = xattr(atts, ns_rel, "id")))
		return;
	state = xattr(atts, NULL, "state");
	v = realloc(w->rid, (w->n + 1) * sizeof(*v));
	if (v)
		w->rid = v;
	h = realloc(w->hidden, w->n + 1);
	if (h)
		w->hidden = h;
	if (!v || !h || !(v[w->n] = strdup(rid))) {
		kg_err_set(w->b.err, 500, "internal", "out of memory");
		xml_stop(&w->b);
		return;
	}
	h[w->n++] = state && strcmp(state, "visible");
}

static void
wb_free(struct workbook *w)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		free(w->rid[i]);
	free(w->rid);
	free(w->hidden);
}

/* ---- styles.xml: which cell styles are dates ------------------------- */

struct styles {
	struct xml_base b;
	int in_fmts, in_xfs;
	unsigned *fmt_id;	/* custom numFmts: id ... */
	unsigned char *fmt_date;	/* ... and its KG_FMT_* bits */
	size_t nfmt;
	unsigned *xf_fmt;	/* numFmtId of each cellXfs/xf */
	size_t nxf;
	unsigned char *is_date;	/* KG_FMT_* bits per xf, filled at the end */
};

/*
 * What a custom format shows (KG_FMT_* bits).  Letters count outside
 * "quoted text", escapes (\x, _x, *x) and [brackets] -- colours,
 * conditions, locales -- except [h], [m], [s], elapsed time.  d or y is a
 * date; h is hours, s seconds; m is minutes when an h or s occurs in the
 * format ("mm:ss", "hh:mm"), else a month ("dd.mm.yyyy").
 */
static unsigned
format_kind(const char *code)
{
	int quoted = 0, dy = 0, m = 0;
	unsigned k = 0;
	char c, e;

	for (; *code; code++) {
		c = (char)tolower((unsigned char)*code);
		if (c == '"') {
			quoted = !quoted;
		} else if (quoted) {
			continue;
		} else if (c == '[') {
			e = (char)tolower((unsigned char)code[1]);
			if (strchr("hms", e) && e && (code[2] == ']' ||
						      code[2] == e))
				k |= KG_FMT_ELAPSED | KG_FMT_TIME |
				     (e == 'h' ? KG_FMT_HOUR : 0) |
				     (e == 's' ? KG_FMT_SEC : 0);
			code += strcspn(code, "]");
			if (!*code)
				break;
		} else if (c == '\\' || c == '_' || c == '*') {
			if (!code[1])
				break;
			code++;
		} else if (c == 'd' || c == 'y') {
			dy = 1;
		} else if (c == 'm') {
			m = 1;
		} else if (c == 'h') {
			k |= KG_FMT_HOUR | KG_FMT_TIME;
		} else if (c == 's') {
			k |= KG_FMT_SEC | KG_FMT_TIME;
		}
	}
	if (dy || (m && !(k & (KG_FMT_HOUR | KG_FMT_SEC))))
		k |= KG_FMT_DATE;
	else if (m)
		k |= KG_FMT_TIME;
	return k;
}

/* The built-in formats Excel does not write into styles.xml. */
static unsigned
builtin_kind(unsigned id)
{
	const unsigned hm = KG_FMT_TIME | KG_FMT_HOUR;

	if (id >= 14 && id <= 17)
		return KG_FMT_DATE;	/* m/d/yyyy, d-mmm-yy, d-mmm, mmm-yy */
	if (id == 18 || id == 20)
		return hm;		/* h:mm AM/PM, h:mm */
	if (id == 19 || id == 21)
		return hm | KG_FMT_SEC;	/* h:mm:ss AM/PM, h:mm:ss */
	if (id == 22)
		return KG_FMT_DATE | hm;	/* m/d/yyyy h:mm */
	if (id == 45 || id == 47)
		return KG_FMT_TIME | KG_FMT_SEC;	/* mm:ss, mmss.0 */
	if (id == 46)
		return hm | KG_FMT_SEC | KG_FMT_ELAPSED;	/* [h]:mm:ss */
	return 0;
}

/* Decimal digits only, at most UINT32_MAX (no strtoul: once a cell). */
static int
parse_uint(const char *s, unsigned *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		if ((v = v * 10 + (uint64_t)(*s - '0')) > 0xffffffffu)
			return -1;
	if (*s)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
grow(void **v, size_t n, size_t size)
{
	void *p = realloc(*v, (n + 1) * size);

	if (!p)
		return -1;
	*v = p;
	return 0;
}

static void
styles_add_fmt(struct styles *s, const char **atts)
{
	unsigned id;
	const char *code = xattr(atts, NULL, "formatCode");

	if (parse_uint(xattr(atts, NULL, "numFmtId"), &id) < 0 || !code ||
	    s->nfmt >= MAX_LIST)
		return;
	if (grow((void **)&s->fmt_id, s->nfmt, sizeof(unsigned)) < 0 ||
	    grow((void **)&s->fmt_date, s->nfmt, 1) < 0) {
		kg_err_set(s->b.err, 500, "internal", "out of memory");
		xml_stop(&s->b);
		return;
	}
	s->fmt_id[s->nfmt] = id;
	s->fmt_date[s->nfmt++] = (unsigned char)format_kind(code);
}

static void XMLCALL
styles_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct styles *s = ud;
	unsigned id = 0;

	if (s->b.failed)
		return;
	if (xname_is(name, ns_main, "numFmts"))
		s->in_fmts = 1;
	else if (xname_is(name, ns_main, "cellXfs"))
		s->in_xfs = 1;
	else if (s->in_fmts && xname_is(name, ns_main, "numFmt"))
		styles_add_fmt(s, atts);
	else if (s->in_xfs && xname_is(name, ns_main, "xf") &&
		 s->nxf < MAX_LIST) {
		/* An xf without numFmtId is "General" (0); it still takes
		 * its index, or every later style shifts. */
		if (parse_uint(xattr(atts, NULL, "numFmtId"), &id) < 0)
			id = 0;
		if (grow((void **)&s->xf_fmt, s->nxf, sizeof(unsigned)) < 0) {
			kg_err_set(s->b.err, 500, "internal",
				   "out of memory");
			xml_stop(&s->b);
			return;
		}
		s->xf_fmt[s->nxf++] = id;
	}
}

static void XMLCALL
styles_end(void *ud, const XML_Char *name)
{
	struct styles *s = ud;

	if (xname_is(name, ns_main, "numFmts"))
		s->in_fmts = 0;
	else if (xname_is(name, ns_main, "cellXfs"))
		s->in_xfs = 0;
}

static unsigned
fmt_kind(const struct styles *s, unsigned id)
{
	size_t i;

	/* A custom numFmt may redefine a built-in id. */
	for (i = 0; i < s->nfmt; i++)
		if (s->fmt_id[i] == id)
			return s->fmt_date[i];
	return builtin_kind(id);
}

static int
styles_finish(struct styles *s, struct kg_err *err)
{
	size_t i;

	if (!s->nxf)
		return 0;
	if (!(s->is_date = malloc(s->nxf)))
		return kg_err_set(err, 500, "internal", "out of memory");
	for (i = 0; i < s->nxf; i++)
		s->is_date[i] = (unsigned char)fmt_kind(s, s->xf_fmt[i]);
	return 0;
}

static void
styles_free(struct styles *s)
{
	free(s->fmt_id);
	free(s->fmt_date);
	free(s->xf_fmt);
	free(s->is_date);
}

/* ---- sharedStrings.xml ----------------------------------------------- */

struct sst {
	struct xml_base b;
	struct xns ns;
	size_t limit;		/* lim->max_shared_strings */
	struct kg_buf pool;	/* normalised strings, NUL-terminated */
	size_t *off;		/* start of string i in pool */
	size_t n, cap;
	int in_si, in_t, rph;
	struct kg_buf cur;	/* raw text of the current <si> */
};

static void
sst_fail(struct sst *s, int status, const char *code, const char *msg)
{
	kg_err_set(s->b.err, status, code, "%s", msg);
	xml_stop(&s->b);
}

static void XMLCALL
sst_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct sst *s = ud;
	const char *l;

	if (s->b.failed || !(l = xns_start(&s->ns, &s->b, name, atts)))
		return;
	if (!strcmp(l, "si")) {
		s->in_si = 1;
		s->rph = 0;
		kg_buf_reset(&s->cur);
	} else if (s->in_si && !strcmp(l, "rPh")) {
		s->rph++;
	} else if (s->in_si && !s->rph && !strcmp(l, "t")) {
		s->in_t = 1;
	}
}

/* Normalise the finished <si> into the pool.  Counted here, once per
 * <si>, however many rich-text runs it had, so indexes never shift. */
static void
sst_add(struct sst *s)
{
	size_t *off;

	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		if (!(off = realloc(s->off, s->cap * sizeof(*off)))) {
			sst_fail(s, 500, "internal", "out of memory");
			return;
		}
		s->off = off;
	}
	s->off[s->n++] = s->pool.len;
	if (kg_sheet_norm(s->cur.data ? s->cur.data : "", s->cur.len,
			  &s->pool) < 0 ||
	    kg_buf_append(&s->pool, "", 1) < 0) {
		sst_fail(s, 500, "internal", "out of memory");
		return;
	}
	/* The offsets cost memory too: an attacker's million empty <si/>
	 * must hit the same limit as one huge string. */
	if (s->pool.len + s->n * sizeof(size_t) > s->limit) {
		kg_err_set(s->b.err, 400, "shared_strings_too_large",
			   "the shared-string table is larger than %zu MiB",
			   s->limit >> 20);
		xml_stop(&s->b);
	}
}

static void XMLCALL
sst_end(void *ud, const XML_Char *name)
{
	struct sst *s = ud;
	const char *l;

	if (s->b.failed)
		return;
	if (!(l = xns_end(&s->ns, name))) {
	} else if (s->in_t && !strcmp(l, "t")) {
		s->in_t = 0;
	} else if (s->in_si && !strcmp(l, "rPh")) {
		s->rph--;
	} else if (s->in_si && !strcmp(l, "si")) {
		s->in_si = 0;
		sst_add(s);
	}
	xns_end_done(&s->ns);
}

static void XMLCALL
sst_text(void *ud, const XML_Char *t, int len)
{
	struct sst *s = ud;

	if (s->b.failed || !s->in_t)
		return;
	if (s->cur.len + (size_t)len > KG_SHEET_MAX_CELL)
		sst_fail(s, 400, "bad_xlsx",
			 "a shared string is longer than a cell may be");
	else if (kg_buf_append(&s->cur, t, (size_t)len) < 0)
		sst_fail(s, 500, "internal", "out of memory");
}

static void
sst_free(struct sst *s)
{
	kg_buf_free(&s->pool);
	kg_buf_free(&s->cur);
	free(s->off);
}

/* Before expat reads the strings again (parse_big): none read yet. */
static int
sst_reset(struct xml_base *b, struct kg_err *err)
{
	struct sst *s = (struct sst *)b;
	size_t limit = s->limit;

	(void)err;
	sst_free(s);
	memset(s, 0, sizeof(*s));
	s->limit = limit;
	s->b.plain = 1;
	return 0;
}

/* ---- the worksheet --------------------------------------------------- */

enum ctype { C_NUM, C_SST, C_INLINE, C_STR, C_BOOL, C_ERR, C_DATE };

struct sheet {
	struct xml_base b;
	struct xns ns;
	struct kg_sheet_rows rows;
	const struct kg_sheet_limits *lim;
	kg_sheet_row_fn fn;	/* the caller's, behind sheet_row() */
	void *arg;
	unsigned delivered;	/* rows handed to fn */
	unsigned skip;		/* rows to pass over, delivered before */
	const struct sst *sst;
	const struct styles *styles;
	int date1904;
	int in_data, in_row, in_c, in_v, in_is, in_t, rph;
	unsigned row, next_col, col, style;
	enum ctype type;
	struct kg_buf v;	/* <v> text of the cell */
	struct kg_buf is;	/* its inline string, <is><t>... */
	int has_is;		/* the cell has an <is> */
	int stopped;		/* the callback asked to stop */
};

static void
sheet_fail(struct sheet *s, int status, const char *code, const char *fmt,
	   ...) __attribute__((format(printf, 4, 5)));

static void
sheet_fail(struct sheet *s, int status, const char *code, const char *fmt,
	   ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kg_err_set(s->b.err, status, code, "%s", msg);
	xml_stop(&s->b);
}

/* "AB12" -> column 27; the digits are not needed, rows carry their own
 * number.  -1 for anything that is not a cell reference. */
static long
ref_col(const char *r)
{
	long col = 0;
	int n = 0;

	for (; n < 4; n++, r++) {	/* ASCII letters, no locale: per cell */
		if (*r >= 'A' && *r <= 'Z')
			col = col * 26 + (*r - 'A' + 1);
		else if (*r >= 'a' && *r <= 'z')
			col = col * 26 + (*r - 'a' + 1);
		else
			break;
	}
	if (!n || col > (long)EXCEL_MAX_COL || *r < '0' || *r > '9')
		return -1;
	return col - 1;
}

static enum ctype
cell_type(const char *t)
{
	if (!t)
		return C_NUM;
	if (t[0] && !t[1]) {	/* one letter: most cells */
		switch (t[0]) {
		case 's': return C_SST;
		case 'b': return C_BOOL;
		case 'e': return C_ERR;
		case 'd': return C_DATE;
		default: return C_NUM;
		}
	}
	if (!strcmp(t, "inlineStr"))
		return C_INLINE;
	if (!strcmp(t, "str"))
		return C_STR;
	return C_NUM;
}

static void
row_start(struct sheet *s, const char **atts)
{
	const char *r = xattr(atts, NULL, "r");
	unsigned row;

	if (!r)
		row = s->row + 1;
	else if (parse_uint(r, &row) < 0)
		row = 0;
	if (row < 1 || row > EXCEL_MAX_ROW) {
		sheet_fail(s, 400, "bad_xlsx", "invalid row number after "
			   "row %u", s->row);
		return;
	}
	s->row = row;
	s->in_row = 1;
	s->next_col = 0;
}

static void
cell_start(struct sheet *s, const char **atts)
{
	const char *r = NULL, *t = NULL, *st = NULL;
	long col;

	/* one pass over the attributes: this runs for every cell */
	for (; atts[0]; atts += 2) {
		if (atts[0][1])
			continue;
		if (atts[0][0] == 'r')
			r = atts[1];
		else if (atts[0][0] == 't')
			t = atts[1];
		else if (atts[0][0] == 's')
			st = atts[1];
	}
	col = r ? ref_col(r) : (long)s->next_col;
	if (col < 0 || col >= (long)EXCEL_MAX_COL) {
		sheet_fail(s, 400, "bad_xlsx", "invalid cell reference in "
			   "row %u", s->row);
		return;
	}
	s->col = (unsigned)col;
	s->next_col = s->col + 1;
	s->type = cell_type(t);
	if (parse_uint(st, &s->style) < 0)
		s->style = 0;
	s->in_c = 1;
	s->in_v = s->in_is = s->in_t = s->rph = s->has_is = 0;
	kg_buf_reset(&s->v);
	kg_buf_reset(&s->is);
}

static void XMLCALL
sheet_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct sheet *s = ud;
	const char *l;

	if (s->b.failed || s->b.done ||
	    !(l = xns_start(&s->ns, &s->b, name, atts)))
		return;
	/* by the state first, the name after: this runs for every element */
	if (s->in_c) {
		if (!strcmp(l, "v"))
			s->in_v = 1;
		else if (s->in_is && !s->rph && !strcmp(l, "t"))
			s->in_t = 1;
		else if (!strcmp(l, "is"))
			s->in_is = s->has_is = 1;
		else if (s->in_is && !strcmp(l, "rPh"))
			s->rph++;
	} else if (s->in_row) {
		if (!strcmp(l, "c"))
			cell_start(s, atts);
	} else if (s->in_data && !strcmp(l, "row")) {
		row_start(s, atts);
	} else if (!strcmp(l, "sheetData")) {
		s->in_data = 1;
	}
}

static unsigned
style_kind(const struct sheet *s)
{
	return s->styles->is_date && s->style < s->styles->nxf
		       ? s->styles->is_date[s->style]
		       : 0;
}

/*
 * What strtod() reads from a plain decimal ("46143", "-524184.75") of at
 * most 15 digits, without strtod: the digits as an integer m < 10^15 and
 * 10^k are both exact doubles, so m / 10^k is correctly rounded, as
 * strtod rounds (Clinger's fast path).  0 when v is no such decimal.
 */
static int
plain_decimal(const char *v, double *out)
{
	static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
				     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14,
				     1e15};
	const char *p = v + (*v == '-');
	uint64_t m = 0;
	int digits = 0, frac = -1;

	for (; digits <= 15; p++) {
		if (*p >= '0' && *p <= '9') {
			m = m * 10 + (uint64_t)(*p - '0');
			digits++;
			frac += frac >= 0;
		} else if (*p == '.' && frac < 0 && digits) {
			frac = 0;
		} else {
			break;
		}
	}
	if (*p || !digits || digits > 15 || frac == 0)
		return 0;
	*out = (double)m / p10[frac > 0 ? frac : 0];
	if (*v == '-')
		*out = -*out;
	return 1;
}

static int
put_number(struct sheet *s, const char *v)
{
	struct kg_err *err = s->b.err;
	unsigned kind;
	char buf[32];
	char *end;
	double d;
	int type;

	if (!plain_decimal(v, &d)) {
		d = strtod(v, &end);
		while (*end == ' ')
			end++;
		if (end == v || *end || !isfinite(d))
			return kg_sheet_rows_put_text(&s->rows, s->row,
						      s->col, v, strlen(v),
						      err);
	}
	if ((kind = style_kind(s)) != 0 &&
	    (type = kg_sheet_serial_text(d, s->date1904, kind, buf)) >= 0)
		return kg_sheet_rows_put(&s->rows, s->row, s->col,
					 (enum kg_cell_type)type, buf,
					 strlen(buf), d, err);
	kg_sheet_number_text(d, buf);
	return kg_sheet_rows_put(&s->rows, s->row, s->col, KG_CELL_NUMBER,
				 buf, strlen(buf), d, err);
}

static int
put_shared(struct sheet *s, const char *v)
{
	const struct sst *t = s->sst;
	char name[8];
	unsigned i;
	size_t len;

	if (!*v)		/* <c t="s"/>: an empty cell, as elsewhere */
		return 0;
	if (parse_uint(v, &i) < 0 || i >= t->n) {
		kg_sheet_col_name(s->col, name);
		return kg_err_set(s->b.err, 400, "bad_xlsx",
				  "cell %s%u refers to a shared string that "
				  "does not exist", name, s->row);
	}
	len = (i + 1 < t->n ? t->off[i + 1] : t->pool.len) - t->off[i] - 1;
	return kg_sheet_rows_put(&s->rows, s->row, s->col, KG_CELL_TEXT,
				 t->pool.data + t->off[i], len, 0, s->b.err);
}

/* Error literals are ASCII ("#N/A"); normalise anyway, the file is
 * untrusted. */
static int
put_error(struct sheet *s, const char *v)
{
	struct kg_buf tmp = {0};
	int rc;

	if (kg_sheet_norm(v, strlen(v), &tmp) < 0)
		rc = kg_err_set(s->b.err, 500, "internal", "out of memory");
	else
		rc = kg_sheet_rows_put(&s->rows, s->row, s->col,
				       KG_CELL_ERROR, kg_buf_str(&tmp),
				       tmp.len, 0, s->b.err);
	kg_buf_free(&tmp);
	return rc;
}

/* Two digits at p, 0-max; -1 otherwise. */
static int
two_digit(const char *p, int max)
{
	int v;

	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
		return -1;
	v = (p[0] - '0') * 10 + (p[1] - '0');
	return v <= max ? v : -1;
}

/*
 * A t="d" cell, ISO 8601: "2026-03-01" or "2026-03-01T13:20:05" (any
 * fraction or zone after the seconds ignored).  The text is the date,
 * with " HH:MM" when the time is not midnight and ":SS" when the
 * seconds are not zero -- the form a date-time format gives.
 */
static int
put_iso_date(struct sheet *s, const char *v, double serial)
{
	int h = -1, m = -1, sec = 0;
	char text[20];
	size_t n = 10;

	memcpy(text, v, 10);
	if (v[10] == 'T' && (h = two_digit(v + 11, 23)) >= 0 &&
	    v[13] == ':' && (m = two_digit(v + 14, 59)) >= 0 &&
	    v[16] == ':' && (sec = two_digit(v + 17, 59)) < 0)
		sec = 0;
	if (h >= 0 && m >= 0 && (h || m || sec)) {
		serial += (h * 3600 + m * 60 + sec) / 86400.0;
		n = (size_t)snprintf(text + 10, sizeof(text) - 10,
				     sec ? " %02d:%02d:%02d" : " %02d:%02d",
				     h, m, sec) + 10;
	}
	return kg_sheet_rows_put(&s->rows, s->row, s->col, KG_CELL_DATE,
				 text, n, serial, s->b.err);
}

static int
put_special(struct sheet *s, const char *v)
{
	struct kg_sheet_rows *r = &s->rows;
	struct kg_err *err = s->b.err;
	double serial;

	if (s->type == C_BOOL) {
		if (!strcmp(v, "1") || !strcmp(v, "true"))
			return kg_sheet_rows_put(r, s->row, s->col,
						 KG_CELL_BOOL, "TRUE", 4, 1,
						 err);
		if (!strcmp(v, "0") || !strcmp(v, "false"))
			return kg_sheet_rows_put(r, s->row, s->col,
						 KG_CELL_BOOL, "FALSE", 5, 0,
						 err);
	} else if (s->type == C_ERR && *v) {
		return put_error(s, v);
	} else if (s->type == C_DATE &&
		   kg_sheet_date_serial(v, s->date1904, &serial) == 0) {
		return put_iso_date(s, v, serial);
	}
	return kg_sheet_rows_put_text(r, s->row, s->col, v, strlen(v), err);
}

static int
cell_end(struct sheet *s)
{
	const char *v = kg_buf_str(&s->v);

	s->in_c = 0;
	switch (s->type) {
	case C_SST:
		return put_shared(s, v);
	case C_INLINE:
		/* the inline string, never glued to a <v> some writers add
		 * beside it (what Excel and openpyxl show) */
		if (s->has_is)
			return kg_sheet_rows_put_text(&s->rows, s->row,
						      s->col, kg_buf_str(&s->is),
						      s->is.len, s->b.err);
		/* an inlineStr with only a <v>: that text */
		/* FALLTHROUGH */
	case C_STR:
		return kg_sheet_rows_put_text(&s->rows, s->row, s->col, v,
					      s->v.len, s->b.err);
	case C_NUM:
		return *v ? put_number(s, v) : 0;
	default:
		return put_special(s, v);
	}
}

static void XMLCALL
sheet_end(void *ud, const XML_Char *name)
{
	struct sheet *s = ud;
	const char *l;
	int rc;

	if (s->b.failed || s->b.done)
		return;
	if (!(l = xns_end(&s->ns, name))) {
	} else if (s->in_v && !strcmp(l, "v")) {
		s->in_v = 0;
	} else if (s->in_t && !strcmp(l, "t")) {
		s->in_t = 0;
	} else if (s->rph && !strcmp(l, "rPh")) {
		s->rph--;
	} else if (s->in_is && !strcmp(l, "is")) {
		s->in_is = 0;
	} else if (s->in_c && !strcmp(l, "c")) {
		if (cell_end(s) < 0)
			xml_stop(&s->b);
	} else if (s->in_row && !strcmp(l, "row")) {
		s->in_row = 0;
		rc = kg_sheet_rows_end(&s->rows, s->row, s->b.err);
		if (rc < 0) {
			xml_stop(&s->b);
		} else if (rc > 0) {
			s->stopped = s->b.done = 1;
			xml_halt(&s->b);
		}
	} else if (s->in_data && !strcmp(l, "sheetData")) {
		/* Nothing after sheetData (merges, print setup) matters:
		 * stop inflating. */
		s->in_data = 0;
		s->b.done = 1;
		xml_halt(&s->b);
	}
	xns_end_done(&s->ns);
}

static void XMLCALL
sheet_text(void *ud, const XML_Char *t, int len)
{
	struct sheet *s = ud;
	struct kg_buf *b = s->in_t ? &s->is : &s->v;
	char name[8];

	if (s->b.failed || !(s->in_v || s->in_t))
		return;
	if (b->len + (size_t)len > KG_SHEET_MAX_CELL) {
		kg_sheet_col_name(s->col, name);
		sheet_fail(s, 400, "bad_xlsx", "cell %s%u holds more than "
			   "%zu KiB of text", name, s->row,
			   KG_SHEET_MAX_CELL >> 10);
	} else if (kg_buf_add(b, t, (size_t)len) < 0) {
		sheet_fail(s, 500, "internal", "out of memory");
	}
}

/* ---- putting it together --------------------------------------------- */

/* ---- a CFB (OLE2) container: an old .xls or an encrypted .xlsx ------- */

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Does the directory entry at `e` (128 bytes) name `want` (ASCII)?
 * Names are UTF-16LE with their byte length, NUL included, at 0x40. */
static int
cfb_entry_is(const unsigned char *e, const char *want)
{
	size_t n = strlen(want), i;

	if ((size_t)(e[0x40] | e[0x41] << 8) != 2 * (n + 1))
		return 0;
	for (i = 0; i < n; i++)
		if (e[2 * i] != (unsigned char)want[i] || e[2 * i + 1])
			return 0;
	return 1;
}

/*
 * The next sector of a chain: FAT sector k is listed in the header's
 * DIFAT (the first 109, enough for 7 MiB with 512-byte sectors; a
 * longer chain simply ends the walk).  0xFFFFFFFF when it cannot be
 * followed.
 */
static uint32_t
cfb_next(const unsigned char *d, size_t len, unsigned shift, uint32_t sect)
{
	size_t per = ((size_t)1 << shift) / 4, k = sect / per, off;
	uint32_t fat;

	if (k >= 109)
		return 0xffffffffu;
	fat = le32(d + 0x4c + 4 * k);
	off = ((size_t)fat + 1) << shift;
	if (fat >= 0xfffffffau || off + ((size_t)1 << shift) > len)
		return 0xffffffffu;
	return le32(d + off + 4 * (sect % per));
}

/*
 * What a CFB container holds, from its directory: 2 for an encrypted
 * OOXML package ("EncryptionInfo" / "EncryptedPackage", MS-OFFCRYPTO),
 * 1 for a legacy workbook ("Workbook" / "Book" stream), 0 for anything
 * else (a .doc, a damaged file).
 */
static int
cfb_kind(const unsigned char *d, size_t len)
{
	unsigned shift = len >= 0x200 ? (unsigned)(d[0x1e] | d[0x1f] << 8) : 0;
	uint32_t sect;
	size_t off, i, walked = 0;
	int kind = 0;

	if (shift != 9 && shift != 12)
		return 0;
	sect = le32(d + 0x30);
	while (sect < 0xfffffffau && walked++ < len >> shift) {
		off = ((size_t)sect + 1) << shift;
		if (off + ((size_t)1 << shift) > len)
			break;
		for (i = 0; i < ((size_t)1 << shift); i += 128) {
			if (cfb_entry_is(d + off + i, "EncryptionInfo") ||
			    cfb_entry_is(d + off + i, "EncryptedPackage"))
				return 2;
			if (cfb_entry_is(d + off + i, "Workbook") ||
			    cfb_entry_is(d + off + i, "Book"))
				kind = 1;
		}
		sect = cfb_next(d, len, shift, sect);
	}
	return kind;
}

static int
refuse_cfb(const void *data, size_t len, struct kg_err *err)
{
	switch (cfb_kind(data, len)) {
	case 2:
		return kg_err_set(err, 400, "encrypted",
				  "the workbook is protected with a password "
				  "(encrypted); open it in Excel, remove the "
				  "password (Plik > Informacje > Chroń "
				  "skoroszyt > Szyfruj przy użyciu hasła) and "
				  "save it again");
	case 1:
		return kg_err_set(err, 400, "unsupported_format",
				  "this is an old Excel 97-2003 .xls workbook; "
				  "open it in Excel and save it as .xlsx "
				  "(Zapisz jako > Skoroszyt programu Excel)");
	default:
		return kg_err_set(err, 400, "not_xlsx",
				  "the file is an old-format Office document "
				  "(.xls, .doc), not an .xlsx workbook");
	}
}

/*
 * Opened without ZIP_CHECKCONS: that flag also refuses what Excel and
 * Python's zipfile read without a word (a local header that disagrees
 * with the central directory about sizes or times, an entry name held
 * twice).  What we read is still checked where it matters: every byte
 * inflated is CRC-checked by libzip and counted against the limits.
 */
/* z->za from a libzip source (which it then owns). */
static int
open_source(struct zipctx *z, zip_source_t *src, struct kg_err *err)
{
	zip_error_t ze;

	zip_error_init(&ze);
	z->za = zip_open_from_source(src, ZIP_RDONLY, &ze);
	if (!z->za) {
		zip_source_free(src);
		/* It starts like a zip, so whatever libzip says (no
		 * central directory) the upload is cut short or broken. */
		kg_err_set(err, 400, "damaged",
			   "the .xlsx file is damaged or truncated (%s); "
			   REPAIR_HINT, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		return -1;
	}
	zip_error_fini(&ze);
	if ((zip_uint64_t)zip_get_num_entries(z->za, 0) >
	    z->lim->max_entries)
		return kg_err_set(err, 400, "zip_bomb",
				  "the archive has more than %u entries",
				  z->lim->max_entries);
	return 0;
}

static int
open_zip(struct zipctx *z, const void *data, size_t len, struct kg_err *err)
{
	static const unsigned char cfb[] = {0xd0, 0xcf, 0x11, 0xe0,
					    0xa1, 0xb1, 0x1a, 0xe1};
	zip_source_t *src;
	zip_error_t ze;

	if (len >= 8 && !memcmp(data, cfb, 8))
		return refuse_cfb(data, len, err);
	if (len < 4 || memcmp(data, "PK", 2))
		return kg_err_set(err, 400, "not_xlsx",
				  "the file is not an .xlsx workbook (not a "
				  "zip archive)");
	zip_error_init(&ze);
	src = zip_source_buffer_create(data, len, 0, &ze);
	zip_error_fini(&ze);
	if (!src)
		return kg_err_set(err, 500, "internal", "out of memory");
	return open_source(z, src, err);
}

/* The same from a file: libzip reads it through its own descriptor (a
 * dup of fd, read from offset 0), never all of it into memory. */
static int
open_zip_fd(struct zipctx *z, int fd, size_t len, struct kg_err *err)
{
	unsigned char head[4];
	zip_source_t *src;
	zip_error_t ze;
	FILE *f = NULL;
	int dup_fd;

	if (pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    memcmp(head, "PK", 2))
		return kg_err_set(err, 400, "not_xlsx",
				  "the file is not an .xlsx workbook (not a "
				  "zip archive)");
	if ((dup_fd = dup(fd)) < 0 || !(f = fdopen(dup_fd, "rb"))) {
		if (dup_fd >= 0)
			close(dup_fd);
		return kg_err_set(err, 500, "internal",
				  "cannot read the upload: %s",
				  strerror(errno));
	}
	zip_error_init(&ze);
	src = zip_source_filep_create(f, 0, (zip_int64_t)len, &ze);
	zip_error_fini(&ze);
	if (!src) {
		fclose(f);
		return kg_err_set(err, 500, "internal", "out of memory");
	}
	return open_source(z, src, err);
}

/* Package rels -> the workbook part name (Excel's default if absent). */
/*
 * Package rels -> the workbook part name.  When _rels/.rels is absent,
 * or is not well-formed XML, Excel repairs the package and opens
 * xl/workbook.xml, so do we (out of memory or a forbidden DOCTYPE still
 * fail).
 */
static int
find_workbook(struct zipctx *z, char part[MAX_PATH], struct kg_err *err)
{
	struct kg_err rerr = {0};
	struct rels r = {0};
	const char *t;
	int rc;

	rc = parse_entry(z, "_rels/.rels", &r.b, rels_start, ignore_end,
			 NULL, &rerr);
	if (rc < 0 && strcmp(rerr.code, "bad_xlsx")) {
		if (err)
			*err = rerr;
		goto out;
	}
	t = rc ? NULL : rels_find(&r, REL_OFFICE, NULL);
	rc = 0;
	if (!t || resolve("", t, part) < 0)
		snprintf(part, MAX_PATH, "xl/workbook.xml");
out:
	rels_free(&r);
	return rc;
}

static const char *
first_sheet(const struct workbook *w, const struct rels *r)
{
	const char *t;
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < w->n; i++)
			if ((pass || !w->hidden[i]) &&
			    (t = rels_find(r, REL_SHEET, w->rid[i])))
				return t;
	return NULL;
}

/* Everything the sheet needs before it can be streamed. */
struct parts {
	char sheet[MAX_PATH];
	char sst[MAX_PATH];
	char styles[MAX_PATH];
	int date1904;
};

static int
read_workbook(struct zipctx *z, struct parts *pt, struct kg_err *err)
{
	char part[MAX_PATH], dir[MAX_PATH], relsname[MAX_PATH];
	struct workbook w = {0};
	struct rels r = {0};
	const char *t;
	int rc;

	if (find_workbook(z, part, err) < 0)
		return -1;
	rc = parse_entry(z, part, &w.b, wb_start, ignore_end, NULL, err);
	if (rc > 0)
		kg_err_set(err, 400, "not_xlsx", "the file is a zip archive "
			   "but not an .xlsx workbook (no %s)", part);
	if (rc)
		goto fail;
	/* A .docx or .odt renamed to .xlsx has a main part too. */
	if (!w.is_workbook) {
		rc = kg_err_set(err, 400, "not_xlsx", "the file is a zip "
				"archive but not an .xlsx workbook (%s is "
				"not a workbook)", part);
		goto fail;
	}
	if (part_dir(part, dir, relsname) < 0) {
		rc = kg_err_set(err, 400, "not_xlsx", "bad workbook name");
		goto fail;
	}
	rc = parse_entry(z, relsname, &r.b, rels_start, ignore_end, NULL,
			 err);
	if (rc > 0)
		kg_err_set(err, 400, "not_xlsx", "the workbook has no "
			   "relationships part (%s)", relsname);
	if (rc)
		goto fail;
	rc = -1;
	if (!(t = first_sheet(&w, &r)) || resolve(dir, t, pt->sheet) < 0) {
		kg_err_set(err, 400, "not_xlsx",
			   "the workbook has no worksheet");
		goto fail;
	}
	t = rels_find(&r, REL_SST, NULL);
	if (!t || resolve(dir, t, pt->sst) < 0)
		pt->sst[0] = '\0';
	t = rels_find(&r, REL_STYLES, NULL);
	if (!t || resolve(dir, t, pt->styles) < 0)
		pt->styles[0] = '\0';
	pt->date1904 = w.date1904;
	rc = 0;
fail:
	wb_free(&w);
	rels_free(&r);
	return rc ? -1 : 0;
}

/*
 * The caller's row function, counted.  When the scanner gives up on a
 * sheet after it has delivered rows, expat reads the sheet again from
 * its start and delivers the same rows first: those are passed over,
 * so that every row reaches the caller once.
 */
static int
sheet_row(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	struct sheet *s = arg;

	if (s->skip) {
		s->skip--;
		return 0;
	}
	s->delivered++;
	return s->fn ? s->fn(s->arg, row, c, n) : 0;
}

static void
sheet_free(struct sheet *s)
{
	kg_buf_free(&s->v);
	kg_buf_free(&s->is);
	kg_sheet_rows_free(&s->rows);
}

/* A sheet about to be read; sheet_free() after. */
static int
sheet_init(struct sheet *s, const struct kg_sheet_limits *lim,
	   kg_sheet_row_fn fn, void *arg, const struct sst *sst,
	   const struct styles *st, int date1904, struct kg_err *err)
{
	memset(s, 0, sizeof(*s));
	s->b.plain = 1;
	s->lim = lim;
	s->fn = fn;
	s->arg = arg;
	s->sst = sst;
	s->styles = st;
	s->date1904 = date1904;
	return kg_sheet_rows_init(&s->rows, lim, sheet_row, s, err);
}

/* Before expat reads the sheet again (parse_big): as new, but the rows
 * already delivered are skipped. */
static int
sheet_reset(struct xml_base *b, struct kg_err *err)
{
	struct sheet *s = (struct sheet *)b;
	unsigned delivered = s->delivered;

	sheet_free(s);
	if (sheet_init(s, s->lim, s->fn, s->arg, s->sst, s->styles,
		       s->date1904, err) < 0)
		return -1;
	s->skip = s->delivered = delivered;
	return 0;
}

static int
read_sheet(struct zipctx *z, const struct parts *pt, const struct sst *sst,
	   const struct styles *st, kg_sheet_row_fn fn, void *arg,
	   struct kg_err *err)
{
	struct sheet s;
	int rc;

	if (sheet_init(&s, z->lim, fn, arg, sst, st, pt->date1904, err) < 0)
		return -1;
	rc = parse_big(z, pt->sheet, &s.b, sheet_start, sheet_end,
		       sheet_text, sheet_reset, err);
	if (rc > 0)
		rc = kg_err_set(err, 400, "not_xlsx", "the first worksheet "
				"(%s) is missing", pt->sheet);
	else if (rc == 0 && s.stopped)
		rc = 1;
	sheet_free(&s);
	return rc;
}

/* The archive opened (z->za, to be discarded by the caller) and its
 * workbook read: where the sheet, its strings and styles are.  `lim`
 * NULL means the defaults, kept in `def`.  The archive is data[0..len)
 * or, with data NULL, the file fd. */
static int
open_package(struct zipctx *z, const void *data, int fd, size_t len,
	     const struct kg_sheet_limits *lim, struct kg_sheet_limits *def,
	     struct kg_xlsx_how *how, struct parts *pt, struct kg_err *err)
{
	if (!lim) {
		kg_sheet_limits_default(def);
		lim = def;
	}
	z->lim = lim;
	z->len = len;
	z->how = how;
	z->chunk = how->chunk && how->chunk < XML_READ ? how->chunk
						       : XML_READ;
	if (len > lim->max_file)
		return kg_err_set(err, 413, "too_large", "the file is larger "
				  "than %zu MiB", lim->max_file >> 20);
	if ((data ? open_zip(z, data, len, err)
		  : open_zip_fd(z, fd, len, err)) < 0)
		return -1;
	return read_workbook(z, pt, err);
}

static int
read_package(const void *data, int fd, size_t len,
	     const struct kg_sheet_limits *lim, struct kg_xlsx_how *how,
	     kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	struct kg_sheet_limits def;
	struct zipctx z = {0};
	struct parts pt;
	struct styles st = {0};
	struct sst sst = {0};
	int rc = -1;

	if (open_package(&z, data, fd, len, lim, &def, how, &pt, err) < 0)
		goto out;
	lim = z.lim;
	if (pt.styles[0] && (parse_entry(&z, pt.styles, &st.b, styles_start,
					 styles_end, NULL, err) < 0 ||
			     styles_finish(&st, err) < 0))
		goto out;
	sst.limit = lim->max_shared_strings;
	sst.b.plain = 1;
	if (pt.sst[0] && parse_big(&z, pt.sst, &sst.b, sst_start, sst_end,
				   sst_text, sst_reset, err) < 0)
		goto out;
	rc = read_sheet(&z, &pt, &sst, &st, fn, arg, err);
out:
	if (z.za)
		zip_discard(z.za);
	styles_free(&st);
	sst_free(&sst);
	return rc;
}

int
kg_xlsx_read(const void *data, size_t len, const struct kg_sheet_limits *lim,
	     kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	struct kg_xlsx_how how = {0};

	return read_package(data, -1, len, lim, &how, fn, arg, err);
}

int
kg_xlsx_read_fd(int fd, size_t len, const struct kg_sheet_limits *lim,
		kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	struct kg_xlsx_how how = {0};

	return read_package(NULL, fd, len, lim, &how, fn, arg, err);
}

int
kg_xlsx_read_how(const void *data, size_t len,
		 const struct kg_sheet_limits *lim, struct kg_xlsx_how *how,
		 kg_sheet_row_fn fn, void *arg, struct kg_err *err)
{
	how->scanned = how->fell_back = 0;
	return read_package(data, -1, len, lim, how, fn, arg, err);
}

/* ---- the floor, for the benchmark ------------------------------------- */

/* CPU time: the benchmark runs on machines busy with other work. */
static double
cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Inflate entry `name` into nothing, counted like feed() counts it. */
static int
inflate_only(struct zipctx *z, const char *name, struct kg_err *err)
{
	zip_int64_t idx = find_entry(z, name), n;
	zip_file_t *zf;
	uint64_t entry = 0;
	char *buf;
	int rc = 0;

	if (idx < 0 || !(zf = zip_fopen_index(z->za, (zip_uint64_t)idx, 0)))
		return kg_err_set(err, 400, "damaged", "cannot read %s", name);
	if (!(buf = malloc(CHUNK))) {
		zip_fclose(zf);
		return kg_err_set(err, 500, "internal", "out of memory");
	}
	while ((n = zip_fread(zf, buf, CHUNK)) > 0) {
		entry += (uint64_t)n;
		z->inflated += (uint64_t)n;
		if ((rc = charge(z, name, entry, z->len, err)) < 0)
			break;
	}
	if (n < 0)
		rc = kg_err_set(err, 400, "damaged", "%s: %s", name,
				zip_file_strerror(zf));
	free(buf);
	zip_fclose(zf);
	return rc;
}

int
kg_xlsx_floor(const void *data, size_t len, const struct kg_sheet_limits *lim,
	      struct kg_xlsx_floor *out, struct kg_err *err)
{
	struct kg_sheet_limits def;
	struct kg_xlsx_how how = {0};
	struct zipctx z = {0};
	struct xml_base b = {.plain = 1};	/* as the sheet is parsed */
	struct parts pt;
	double t0, t1, t2;
	int rc = -1;

	if (open_package(&z, data, -1, len, lim, &def, &how, &pt, err) < 0)
		goto out;
	t0 = cpu_ms();
	if (inflate_only(&z, pt.sheet, err) < 0)
		goto out;
	t1 = cpu_ms();
	if (parse_entry(&z, pt.sheet, &b, NULL, NULL, NULL, err) != 0)
		goto out;
	t2 = cpu_ms();
	rc = parse_with(&z, pt.sheet, &b, NULL, NULL, NULL, 1, err);
	if (rc != 0 && rc != SCAN_BAILED)
		goto out;
	out->inflate_ms = t1 - t0;
	out->xml_ms = t2 - t1 - out->inflate_ms;
	out->scan_ms = cpu_ms() - t2 - out->inflate_ms;
	out->scan_bailed = rc == SCAN_BAILED;
	rc = 0;
out:
	if (z.za)
		zip_discard(z.za);
	return rc;
}
