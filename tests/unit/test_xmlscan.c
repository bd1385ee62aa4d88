/* Unit tests of kg_xmlscan against expat itself.  Each document is
 * parsed by expat (a plain parser, as kg_xlsx's worksheet parser) and by
 * the scanner, fed in pieces of every size from 1 byte to the whole
 * document, with handlers that write what they are given as one string:
 * "<name a=[v]>" for a start, "</name>" for an end, the text as it is.
 * A document in the scanner's subset must give exactly expat's string
 * for every split; one outside it must make the scanner give up
 * (KG_XMLSCAN_BAIL) for every split, and the tests say whether expat
 * accepts it or refuses it, so that the scanner is seen never to accept
 * what expat refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <expat.h>
#include <stdio.h>
#include <string.h>

#include "kg_buf.h"
#include "kg_xmlscan.h"

enum want { SCANNED, BAIL_EXPAT_OK, BAIL_EXPAT_ERROR };

struct rec {
	struct kg_buf out;
	struct kg_xmlscan *x;
	const char *stop_at;	/* stop at the start of this element */
};

static void
rec_start(void *ud, const char *name, const char **atts)
{
	struct rec *r = ud;

	kg_buf_printf(&r->out, "<%s", name);
	for (; atts[0]; atts += 2)
		kg_buf_printf(&r->out, " %s=[%s]", atts[0], atts[1]);
	kg_buf_puts(&r->out, ">");
	if (r->x && r->stop_at && !strcmp(name, r->stop_at))
		kg_xmlscan_stop(r->x);
}

static void
rec_end(void *ud, const char *name)
{
	kg_buf_printf(&((struct rec *)ud)->out, "</%s>", name);
}

static void
rec_text(void *ud, const char *s, int len)
{
	kg_buf_append(&((struct rec *)ud)->out, s, (size_t)len);
}

/* expat's reading of doc: 0 and its events in *out, or -1. */
static int
by_expat(const char *doc, size_t len, struct kg_buf *out)
{
	struct rec r = {0};
	XML_Parser p = XML_ParserCreate(NULL);
	int rc;

	assert_non_null(p);
	XML_SetUserData(p, &r);
	XML_SetElementHandler(p, rec_start, rec_end);
	XML_SetCharacterDataHandler(p, rec_text);
	rc = XML_Parse(p, doc, (int)len, 1) == XML_STATUS_OK ? 0 : -1;
	XML_ParserFree(p);
	kg_buf_reset(out);
	kg_buf_append(out, kg_buf_str(&r.out), r.out.len);
	kg_buf_free(&r.out);
	return rc;
}

/* The scanner's, fed `piece` bytes at a time: its last status. */
static enum kg_xmlscan_status
by_scanner(const char *doc, size_t len, size_t piece, struct kg_buf *out)
{
	struct kg_xmlscan x;
	struct rec r = {0};
	enum kg_xmlscan_status st;
	size_t off = 0, n;
	void *buf;

	kg_xmlscan_init(&x, rec_start, rec_end, rec_text, &r);
	do {
		n = len - off < piece ? len - off : piece;
		buf = kg_xmlscan_buffer(&x, piece);
		assert_non_null(buf);
		memcpy(buf, doc + off, n);
		off += n;
		st = kg_xmlscan_parse(&x, n, n == 0);
	} while (st == KG_XMLSCAN_OK && n);
	kg_xmlscan_free(&x);
	kg_buf_reset(out);
	kg_buf_append(out, kg_buf_str(&r.out), r.out.len);
	kg_buf_free(&r.out);
	return st;
}

static void
check_len(const char *doc, size_t len, enum want want)
{
	struct kg_buf e = {0}, s = {0};
	enum kg_xmlscan_status st;
	int erc = by_expat(doc, len, &e);
	size_t piece;

	if (want == SCANNED && erc)
		fail_msg("expat refuses %s", doc);
	if (want != SCANNED && (erc == 0) != (want == BAIL_EXPAT_OK))
		fail_msg("expat %s %s", erc ? "refuses" : "accepts", doc);
	for (piece = 1; piece <= len + 1; piece++) {
		st = by_scanner(doc, len, piece, &s);
		if (want == SCANNED && st != KG_XMLSCAN_OK)
			fail_msg("in %zu-byte pieces the scanner gives up on "
				 "%s", piece, doc);
		if (want != SCANNED && st != KG_XMLSCAN_BAIL)
			fail_msg("in %zu-byte pieces the scanner accepts %s",
				 piece, doc);
		if (want == SCANNED && strcmp(kg_buf_str(&e), kg_buf_str(&s)))
			fail_msg("%s\nexpat:   %s\nscanner: %s", doc,
				 kg_buf_str(&e), kg_buf_str(&s));
	}
	kg_buf_free(&e);
	kg_buf_free(&s);
}

static void
check(const char *doc, enum want want)
{
	check_len(doc, strlen(doc), want);
}

static void
test_entities_and_char_refs(void **state)
{
	(void)state;
	check("<a x=\"&lt;&gt;&amp;&apos;&quot;\">&lt;&gt;&amp;&apos;"
	      "&quot;</a>", SCANNED);
	check("<a x=\"&#65;&#x41;&#x4a;&#x4A;&#0065;&#9;&#10;&#13;\">"
	      "&#65;&#x41;&#380;&#x17C;&#x10FFFF;&#x1F600;&#9;&#10;&#13;"
	      "&#xD7FF;&#xE000;&#xFFFD;&#x10000;</a>", SCANNED);
	/* references to what XML does not allow: expat refuses them */
	check("<a>&#0;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#x0;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#1;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#xD800;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#xDFFF;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#xFFFE;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#xFFFF;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#x110000;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#99999999999;</a>", BAIL_EXPAT_ERROR);
	check("<a x=\"&#0;\"/>", BAIL_EXPAT_ERROR);
	check("<a x=\"&#xD800;\"/>", BAIL_EXPAT_ERROR);
	/* not references */
	check("<a>&#X41;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#x;</a>", BAIL_EXPAT_ERROR);
	check("<a>&#12a;</a>", BAIL_EXPAT_ERROR);
	check("<a>&amp</a>", BAIL_EXPAT_ERROR);
	check("<a>a & b</a>", BAIL_EXPAT_ERROR);
	check("<a>&nbsp;</a>", BAIL_EXPAT_ERROR);	/* no DTD */
	check("<a x=\"&\"/>", BAIL_EXPAT_ERROR);
	/* allowed, but outside the subset: leading zeros past 8 digits */
	check("<a>&#0000000065;</a>", BAIL_EXPAT_OK);
}

static void
test_attributes(void **state)
{
	(void)state;
	check("<c r=\"A1\" t='s' s=\"1\"><v>0</v></c>", SCANNED);
	check("<a x='\"' y=\"'\" z=\"a>b\" w='>'/>", SCANNED);
	check("<a x=\"\" y=''/>", SCANNED);
	check("<a x=\"1\r\n2\r3\n4\t5\" y=\"&#10;&#13;&#9;\"/>", SCANNED);
	check("<a x=\"\xc5\xbc\xc3\xb3\xc5\x82w \xf0\x9f\x98\x80\"/>", SCANNED);
	check("<a x=\"1\" x=\"2\"/>", BAIL_EXPAT_ERROR);
	check("<a x=\"1\"y=\"2\"/>", BAIL_EXPAT_ERROR);
	check("<a x=\"<\"/>", BAIL_EXPAT_ERROR);
	check("<a x=1/>", BAIL_EXPAT_ERROR);
	check("<a x/>", BAIL_EXPAT_ERROR);
	check("<a x=\"1'/>", BAIL_EXPAT_ERROR);
	check("<a x=\"\x01\"/>", BAIL_EXPAT_ERROR);
	/* ']]>' is allowed in a value; the scanner leaves it to expat */
	check("<a x=\"]]>\"/>", BAIL_EXPAT_OK);
}

static void
test_tags(void **state)
{
	(void)state;
	/* whitespace wherever XML allows it */
	check("<a\n  x = \"1\"\t y\r\n=\r\n'2'  >t</a  >", SCANNED);
	check("<c/><!-- -->", SCANNED);
	check("<row><c/><c /><c r=\"A1\"/><c\n/></row>", SCANNED);
	check("<c><v></v></c>", SCANNED);
	check("<x:a xmlns:x=\"u\" xmlns=\"v\"><x:b x:y=\"1\"/><b/></x:a>",
	      SCANNED);
	check("<A.b-c_d9><_e/></A.b-c_d9>", SCANNED);
	/* unknown elements with content, nested */
	check("<worksheet><sheetViews><sheetView workbookViewId=\"0\">"
	      "<selection activeCell=\"A1\" sqref=\"A1\"/></sheetView>"
	      "</sheetViews><extLst><ext uri=\"{X}\"><x14:foo xmlns:x14=\"u\">"
	      "t<bar>u</bar>v</x14:foo></ext></extLst></worksheet>", SCANNED);
	check("<a><b></a></b>", BAIL_EXPAT_ERROR);
	check("<a><b></b></c>", BAIL_EXPAT_ERROR);
	check("<a></ab>", BAIL_EXPAT_ERROR);
	check("<ab></a>", BAIL_EXPAT_ERROR);
	check("</a>", BAIL_EXPAT_ERROR);
	check("<a / >", BAIL_EXPAT_ERROR);
	check("< a/>", BAIL_EXPAT_ERROR);
	check("<a></ a>", BAIL_EXPAT_ERROR);
	check("<1a/>", BAIL_EXPAT_ERROR);
	/* names outside the subset, which expat accepts */
	check("<\xc5\xbc/>", BAIL_EXPAT_OK);
	check("<a:b:c/>", BAIL_EXPAT_OK);
	check("<:a/>", BAIL_EXPAT_OK);
}

static void
test_text(void **state)
{
	(void)state;
	check("<a>l1\r\nl2\rl3\n\r\nl4\t]] ] ]>x</a>", SCANNED);
	check("<a>z\xc5\xbc\xc3\xb3\xc5\x82w \xe2\x82\xac \xf0\x9f\x98\x80 "
	      "\xef\xbf\xbd \xc2\x80\x7f</a>", SCANNED);
	check("<a>]]></a>", BAIL_EXPAT_ERROR);
	check("<a>\x01</a>", BAIL_EXPAT_ERROR);
	check("<a>\x0c</a>", BAIL_EXPAT_ERROR);
	check("<a>\xc3\x28</a>", BAIL_EXPAT_ERROR);	/* bad continuation */
	check("<a>\xc0\xaf</a>", BAIL_EXPAT_ERROR);	/* overlong */
	check("<a>\xe0\x80\xaf</a>", BAIL_EXPAT_ERROR);	/* overlong */
	check("<a>\xed\xa0\x80</a>", BAIL_EXPAT_ERROR);	/* surrogate */
	check("<a>\xef\xbf\xbe</a>", BAIL_EXPAT_ERROR);	/* U+FFFE */
	check("<a>\xef\xbf\xbf</a>", BAIL_EXPAT_ERROR);	/* U+FFFF */
	check("<a>\xf4\x90\x80\x80</a>", BAIL_EXPAT_ERROR);	/* > 10FFFF */
	check("<a>\xff</a>", BAIL_EXPAT_ERROR);
	check("<a>\xc5</a>", BAIL_EXPAT_ERROR);	/* cut short */
	check_len("<a>\0</a>", 8, BAIL_EXPAT_ERROR);
	check("<a><![CDATA[x]]></a>", BAIL_EXPAT_OK);
	check("<a>1<!-- x -->2<!---->3<!-- - \xc5\xbc\r\n<a>&x; -->4</a>",
	      SCANNED);
	check("<a><!-- a--b --></a>", BAIL_EXPAT_ERROR);
	check("<a><!-- a ---></a>", BAIL_EXPAT_ERROR);
	check("<a><!-- \x01 --></a>", BAIL_EXPAT_ERROR);
	check("<a><!-- \xed\xa0\x80 --></a>", BAIL_EXPAT_ERROR);
	check("<a><!-- x </a>", BAIL_EXPAT_ERROR);
	check("<a><!- x --></a>", BAIL_EXPAT_ERROR);
	check("<a><?pi x?></a>", BAIL_EXPAT_OK);
}

static void
test_document(void **state)
{
	(void)state;
	check("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>"
	      "\r\n<a/>", SCANNED);
	check("<?xml version='1.0' encoding='utf-8'?><a/>\n", SCANNED);
	check("<?xml version = \"1.0\"  standalone='no' ?><a/>", SCANNED);
	check("\xef\xbb\xbf<?xml version=\"1.0\"?><a/>", SCANNED);
	check("\xef\xbb\xbf<a/>", SCANNED);
	check(" \n<a>x</a> \n", SCANNED);
	check("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xbf</a>",
	      BAIL_EXPAT_OK);
	check("<?xml version=\"1.0\" encoding=\"ISO-8859-2\"?><a/>",
	      BAIL_EXPAT_ERROR);	/* expat knows no ISO-8859-2 */
	check("<?xml version=\"1.0\" encoding=\"US-ASCII\"?><a/>",
	      BAIL_EXPAT_OK);
	check("<?xml version=\"1.0\" encoding=\"UTF-16\"?><a/>",
	      BAIL_EXPAT_ERROR);
	check("<?xml version=\"1.0\" encoding=\"UTF8\"?><a/>",
	      BAIL_EXPAT_ERROR);
	check(" <?xml version=\"1.0\"?><a/>", BAIL_EXPAT_ERROR);
	check("<?xml encoding=\"UTF-8\"?><a/>", BAIL_EXPAT_ERROR);
	check("<?xml version=\"1.0\" standalone=\"maybe\"?><a/>",
	      BAIL_EXPAT_ERROR);
	check("<?xml-stylesheet href=\"x\"?><a/>", BAIL_EXPAT_OK);
	check("<!DOCTYPE a><a/>", BAIL_EXPAT_OK);
	check("<?xml version=\"1.0\"?><!-- x --><a/>", SCANNED);
	check("<a/><!-- x -->\n", SCANNED);
	check("<!-- x --><?xml version=\"1.0\"?><a/>", BAIL_EXPAT_ERROR);
	check("", BAIL_EXPAT_ERROR);
	check("  ", BAIL_EXPAT_ERROR);
	check("x<a/>", BAIL_EXPAT_ERROR);
	check("<a/>x", BAIL_EXPAT_ERROR);
	check("<a/><b/>", BAIL_EXPAT_ERROR);
	check("<a>", BAIL_EXPAT_ERROR);
	check("<a><b>x</b>", BAIL_EXPAT_ERROR);
	check("<a x=\"1", BAIL_EXPAT_ERROR);
}

/* Every prefix of a worksheet is refused by expat and given up on by
 * the scanner: a truncated part is never taken for a whole one. */
static void
test_truncated(void **state)
{
	static const char doc[] =
		"<?xml version=\"1.0\"?><worksheet xmlns=\"u\"><sheetData>"
		"<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>&#380;a"
		"&amp;b</t></is></c><c r=\"B1\"><v>1</v></c></row>"
		"</sheetData></worksheet>";
	size_t n;

	(void)state;
	check(doc, SCANNED);
	for (n = 0; n < sizeof(doc) - 1; n++)
		check_len(doc, n, BAIL_EXPAT_ERROR);
}

static void
test_limits(void **state)
{
	struct kg_buf d = {0};
	unsigned i;

	(void)state;
	for (i = 0; i < KG_XMLSCAN_DEPTH; i++)
		kg_buf_puts(&d, "<a>");
	for (i = 0; i < KG_XMLSCAN_DEPTH; i++)
		kg_buf_puts(&d, "</a>");
	check(kg_buf_str(&d), SCANNED);
	kg_buf_reset(&d);
	for (i = 0; i <= KG_XMLSCAN_DEPTH; i++)
		kg_buf_puts(&d, "<a>");
	for (i = 0; i <= KG_XMLSCAN_DEPTH; i++)
		kg_buf_puts(&d, "</a>");
	check(kg_buf_str(&d), BAIL_EXPAT_OK);
	kg_buf_reset(&d);
	kg_buf_puts(&d, "<a");
	for (i = 0; i <= KG_XMLSCAN_ATTS; i++)
		kg_buf_printf(&d, " a%u=\"%u\"", i, i);
	kg_buf_puts(&d, "/>");
	check(kg_buf_str(&d), BAIL_EXPAT_OK);
	kg_buf_free(&d);
}

/* A handler stops the scan, as XML_StopParser: nothing after it. */
static void
test_stop(void **state)
{
	static const char doc[] = "<a><b/><c>x</c><d/></a>";
	struct kg_xmlscan x;
	struct rec r = {0};
	void *buf;

	(void)state;
	r.x = &x;
	r.stop_at = "c";
	kg_xmlscan_init(&x, rec_start, rec_end, rec_text, &r);
	buf = kg_xmlscan_buffer(&x, sizeof(doc));
	memcpy(buf, doc, sizeof(doc) - 1);
	assert_int_equal(kg_xmlscan_parse(&x, sizeof(doc) - 1, 0),
			 KG_XMLSCAN_STOPPED);
	assert_string_equal(kg_buf_str(&r.out), "<a><b></b><c>");
	kg_xmlscan_free(&x);
	kg_buf_free(&r.out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entities_and_char_refs),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_document),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
