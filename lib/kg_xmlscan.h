/*
 * kg_xmlscan - a fast scanner for the XML that spreadsheet exporters
 * write, with expat as the parser of everything else.
 *
 * Reading the worksheet of a 10,000-row upload, expat was half of the
 * time (issue 19): it is a complete XML parser, and a worksheet uses
 * little of XML.  This scanner reads that little, calls the same
 * handlers expat would call (same signatures, so kg_xlsx uses one set
 * of handlers for both), and gives up on anything else:
 *
 *   THE SUBSET (everything else: KG_XMLSCAN_BAIL)
 *   - UTF-8 only: an optional UTF-8 byte order mark, then an optional
 *     XML declaration exactly <?xml version="1.0" [encoding="UTF-8"|
 *     "utf-8"] [standalone="yes"|"no"]?> (either quote, whitespace
 *     around '='); no other encoding;
 *   - elements with ASCII names ([A-Za-z_][A-Za-z0-9._-]*, at most one
 *     ':' followed by the same), at most KG_XMLSCAN_DEPTH deep, with at
 *     most KG_XMLSCAN_ATTS attributes, each name = 'value' or "value";
 *     whitespace (space, tab, CR, LF) where XML allows it; <x/>;
 *   - text and attribute values: valid UTF-8 (RFC 3629; no surrogates,
 *     nothing past U+10FFFF, no U+FFFE/U+FFFF), no control character
 *     but tab, LF and CR, no "]]>"; the five predefined entities and
 *     character references (&#N; &#xH;) to characters XML allows;
 *     line ends normalised as XML says (CR LF and CR -> LF), and in
 *     attribute values tab, LF and CR -> space, as expat does;
 *   - comments (<!-- -->, no "--" inside), which no handler sees;
 *   - outside the root element, whitespace and comments only.
 *   Not in it: DOCTYPE, CDATA sections, processing instructions (the
 *   XML declaration aside), names outside ASCII,
 *   other entities, a token longer than KG_XMLSCAN_MAX_TOKEN - and
 *   whatever is not well-formed: a mismatched or missing end tag, a
 *   duplicate attribute, a truncated document, junk after the root.
 *
 * The rule is: outside the subset -> expat.  The scanner never reports
 * an error of its own; on anything it does not accept it returns
 * KG_XMLSCAN_BAIL, and the caller parses the WHOLE part again with
 * expat, which accepts it or says what is wrong in its usual words.  So
 * the scanner must never accept what expat refuses, and must hand the
 * handlers exactly what expat hands them (text may come in other
 * pieces: expat splits it at references and line ends, this does not);
 * tests/fuzz/fuzz_xlsx_scan.c checks both against expat.  Namespaces
 * are the handlers' business, as with kg_xlsx's plain expat parser:
 * names are passed as written ("x:c"), xmlns declarations as
 * attributes.
 *
 * Streaming like expat: ask for a buffer, fill it, scan it; a token cut
 * at the end of the data is kept for the next piece.
 */
#ifndef KG_XMLSCAN_H
#define KG_XMLSCAN_H

#include <stddef.h>

#define KG_XMLSCAN_DEPTH 64		/* open elements */
#define KG_XMLSCAN_ATTS 32		/* attributes of one element */
#define KG_XMLSCAN_NAMES 2048		/* bytes of the open elements' names */
#define KG_XMLSCAN_MAX_TOKEN ((size_t)1 << 20)	/* one tag or text run */

/* expat's handler types (XML_Char is char). */
typedef void (*kg_xmlscan_start_fn)(void *ud, const char *name,
				    const char **atts);
typedef void (*kg_xmlscan_end_fn)(void *ud, const char *name);
typedef void (*kg_xmlscan_text_fn)(void *ud, const char *s, int len);

enum kg_xmlscan_status {
	KG_XMLSCAN_OK,		/* scanned; more wanted (at the end: done) */
	KG_XMLSCAN_STOPPED,	/* a handler called kg_xmlscan_stop() */
	KG_XMLSCAN_BAIL		/* outside the subset: parse it with expat */
};

struct kg_xmlscan {
	kg_xmlscan_start_fn start;	/* any may be NULL */
	kg_xmlscan_end_fn end;
	kg_xmlscan_text_fn text;
	void *ud;
	char *buf;		/* data, NUL after the last byte */
	size_t cap, len, pos;	/* buf[pos..len) is not scanned yet */
	int state;		/* before, inside or after the root */
	int stopped;
	unsigned depth;
	unsigned name_off[KG_XMLSCAN_DEPTH];	/* into names */
	unsigned names_len;
	char names[KG_XMLSCAN_NAMES];	/* open elements, NUL-terminated */
	const char *atts[2 * KG_XMLSCAN_ATTS + 1];
};

/* A scanner calling these handlers with user data `ud`. */
void kg_xmlscan_init(struct kg_xmlscan *x, kg_xmlscan_start_fn start,
		     kg_xmlscan_end_fn end, kg_xmlscan_text_fn text,
		     void *ud);
void kg_xmlscan_free(struct kg_xmlscan *x);

/* Room for `want` more bytes, as XML_GetBuffer: write up to `want`
 * bytes there and pass their number to kg_xmlscan_parse().  NULL when
 * out of memory or when a token would outgrow KG_XMLSCAN_MAX_TOKEN
 * (either way: parse with expat). */
void *kg_xmlscan_buffer(struct kg_xmlscan *x, size_t want);

/* Scan what is in the buffer plus `n` new bytes; `final` when no more
 * will come (the document must then be complete). */
enum kg_xmlscan_status kg_xmlscan_parse(struct kg_xmlscan *x, size_t n,
					int final);

/* From a handler: stop after this handler returns, as XML_StopParser. */
void kg_xmlscan_stop(struct kg_xmlscan *x);

#endif
