/* Unit tests of kg_docx: text cleaning, and a built card reopened with
 * libzip + expat: parts present and well-formed, text escaped and
 * present, styles and language right, zip layout Office-friendly. */
#define _GNU_SOURCE	/* memmem */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zip.h>

#include "kg_array.h"
#include "kg_docx.h"
#include "kg_typo.h"

#define NBSP "\xc2\xa0"

static const char *const required_parts[] = {
	"[Content_Types].xml", "_rels/.rels", "word/document.xml",
	"word/_rels/document.xml.rels", "word/styles.xml",
	"word/settings.xml", "word/header1.xml", "word/footer1.xml",
	"docProps/core.xml", "docProps/app.xml",
};

#define NPARTS KG_COUNT(required_parts)

static const char *const section_titles[] = {
	"Podsumowanie projektu", "Cel i uzasadnienie", "Grupa docelowa",
	"Zakres działań", "Harmonogram", "Budżet", "Rezultaty i wskaźniki",
	"Ryzyka i sposoby ich ograniczania",
};

#define HOSTILE "Kod </w:t><w:p>&amp; & <script>alert('x')</script> " \
	"\"cytat\" ctl\x01\x0b\x0c|\xef\xbf\xbe|\xef\xbf\xbf|\xff\xfe|" \
	"\xed\xa0\x80|\xc0\xaf|\r\nkoniec"

/* ---- reading the package back ----------------------------------------- */

struct pkg {
	zip_t *za;
	char *part[NPARTS];
	size_t len[NPARTS];
};

static void
pkg_open(struct pkg *p, const struct kg_buf *docx)
{
	zip_error_t ze;
	zip_source_t *src;
	size_t i;

	memset(p, 0, sizeof(*p));
	zip_error_init(&ze);
	src = zip_source_buffer_create(docx->data, docx->len, 0, &ze);
	assert_non_null(src);
	p->za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
	assert_non_null(p->za);
	for (i = 0; i < NPARTS; i++) {
		zip_stat_t st;
		zip_file_t *f;

		assert_int_equal(zip_stat(p->za, required_parts[i], 0, &st), 0);
		p->part[i] = calloc(1, st.size + 1);
		assert_non_null(p->part[i]);
		f = zip_fopen(p->za, required_parts[i], 0);
		assert_non_null(f);
		assert_int_equal(zip_fread(f, p->part[i], st.size),
				 (zip_int64_t)st.size);
		zip_fclose(f);
		p->len[i] = st.size;
	}
	zip_error_fini(&ze);
}

static const char *
pkg_part(const struct pkg *p, const char *name)
{
	size_t i;

	for (i = 0; i < NPARTS; i++)
		if (strcmp(required_parts[i], name) == 0)
			return p->part[i];
	fail_msg("no part %s", name);
	return NULL;
}

static void
pkg_close(struct pkg *p)
{
	size_t i;

	for (i = 0; i < NPARTS; i++)
		free(p->part[i]);
	zip_close(p->za);
}

/* What an XML scan of a part found. */
struct scan {
	struct kg_buf text;	/* w:t content, '\n' after each paragraph */
	int in_t;
	int doctype;
	int n_title, n_heading1, n_tables, n_bold;
	int in_heading1_style, h1_child, h1_name_at, h1_based_at;
	int h1_outline0;
	int in_rpr_default, lang_pl;
	int instr_page, instr_numpages;
};

static const char *
attr(const XML_Char **a, const char *name)
{
	for (; a[0]; a += 2)
		if (strcmp(a[0], name) == 0)
			return a[1];
	return NULL;
}

static void XMLCALL
on_start(void *ud, const XML_Char *el, const XML_Char **a)
{
	struct scan *s = ud;
	const char *v;

	if (strcmp(el, "w:t") == 0)
		s->in_t = 1;
	else if (strcmp(el, "w:tbl") == 0)
		s->n_tables++;
	else if (strcmp(el, "w:b") == 0)
		s->n_bold++;
	else if (strcmp(el, "w:rPrDefault") == 0)
		s->in_rpr_default = 1;
	else if (strcmp(el, "w:lang") == 0 && s->in_rpr_default &&
		 (v = attr(a, "w:val")) && strcmp(v, "pl-PL") == 0)
		s->lang_pl = 1;
	else if (strcmp(el, "w:pStyle") == 0 && (v = attr(a, "w:val"))) {
		s->n_title += strcmp(v, "Title") == 0;
		s->n_heading1 += strcmp(v, "Heading1") == 0;
	} else if (strcmp(el, "w:style") == 0 &&
		   (v = attr(a, "w:styleId")) && strcmp(v, "Heading1") == 0)
		s->in_heading1_style = 1;
	if (!s->in_heading1_style)
		return;
	s->h1_child++;
	if (strcmp(el, "w:name") == 0 && (v = attr(a, "w:val")) &&
	    strcmp(v, "heading 1") == 0)
		s->h1_name_at = s->h1_child;
	else if (strcmp(el, "w:basedOn") == 0)
		s->h1_based_at = s->h1_child;
	else if (strcmp(el, "w:outlineLvl") == 0 && (v = attr(a, "w:val")) &&
		 strcmp(v, "0") == 0)
		s->h1_outline0 = 1;
}

static void XMLCALL
on_end(void *ud, const XML_Char *el)
{
	struct scan *s = ud;

	if (strcmp(el, "w:t") == 0)
		s->in_t = 0;
	else if (strcmp(el, "w:p") == 0)
		assert_int_equal(kg_buf_puts(&s->text, "\n"), 0);
	else if (strcmp(el, "w:style") == 0)
		s->in_heading1_style = 0;
	else if (strcmp(el, "w:rPrDefault") == 0)
		s->in_rpr_default = 0;
}

static void XMLCALL
on_text(void *ud, const XML_Char *t, int len)
{
	struct scan *s = ud;

	if (s->in_t)
		assert_int_equal(kg_buf_append(&s->text, t, (size_t)len), 0);
	if (memmem(t, (size_t)len, " PAGE ", 6))
		s->instr_page = 1;
	if (memmem(t, (size_t)len, " NUMPAGES ", 10))
		s->instr_numpages = 1;
}

static void XMLCALL
on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
	   const XML_Char *pubid, int internal)
{
	(void)name, (void)sysid, (void)pubid, (void)internal;
	((struct scan *)ud)->doctype = 1;
}

/* Parse one part; fails the test unless it is well-formed XML. */
static void
scan_xml(const char *xml, struct scan *s)
{
	XML_Parser p = XML_ParserCreate("UTF-8");
	int ok;

	memset(s, 0, sizeof(*s));
	assert_non_null(p);
	XML_SetUserData(p, s);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_text);
	XML_SetStartDoctypeDeclHandler(p, on_doctype);
	ok = XML_Parse(p, xml, (int)strlen(xml), 1) == XML_STATUS_OK;
	if (!ok)
		fail_msg("not well-formed: %s at line %lu col %lu",
			 XML_ErrorString(XML_GetErrorCode(p)),
			 XML_GetCurrentLineNumber(p),
			 XML_GetCurrentColumnNumber(p));
	XML_ParserFree(p);
	assert_false(s->doctype);
}

/* ---- the card ---------------------------------------------------------- */

struct fixture {
	struct kg_buf big;
	struct kg_docx_section sections[8];
	struct kg_docx_fact facts[5];
	struct kg_docx_card card;
	struct kg_buf docx;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct kg_err err = {0};
	size_t i;

	if (!f)
		return -1;
	/* 20,000 characters (not bytes): "Zażółć " is 7 characters. */
	for (i = 0; i < 20000 / 7; i++)
		kg_buf_puts(&f->big, "Zażółć ");
	kg_buf_puts(&f->big, "KONIEC");
	f->facts[0] = (struct kg_docx_fact){"Wnioskodawca",
		"Fundacja \"Łódź & Okolice\" <sp. z o.o.>"};
	f->facts[1] = (struct kg_docx_fact){"Budżet",
		"1" NBSP "234" NBSP "567,00" NBSP "zł"};
	f->facts[2] = (struct kg_docx_fact){"Data rozpoczęcia", "15.03.2026"};
	f->facts[3] = (struct kg_docx_fact){"Lokalizacja\x01", HOSTILE};
	f->facts[4] = (struct kg_docx_fact){NULL, NULL};
	for (i = 0; i < 8; i++) {
		f->sections[i].title = section_titles[i];
		f->sections[i].body = "Pierwszy akapit w Łodzi - 2026-2027.\n"
				      "Druga linia\tz tabulatorem.\n\n  \n\n"
				      "Drugi akapit.\n";
	}
	f->sections[3].body = HOSTILE;
	f->sections[7].body = f->big.data;
	f->card = (struct kg_docx_card){
		.title = "Zielony Park – rewitalizacja \"Stawy\" & <okolice>",
		.author = "Fundacja Łódź & Spółka",
		.created = 1773568800,	/* 2026-03-15T10:00:00Z */
		.facts = f->facts, .nfacts = 5,
		.sections = f->sections, .nsections = 8,
		.footer_note = "Wygenerowano offline",
	};
	if (kg_docx_build(&f->card, &f->docx, &err) < 0) {
		fprintf(stderr, "%s\n", err.message);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	kg_buf_free(&f->big);
	kg_buf_free(&f->docx);
	free(f);
	return 0;
}

/* ---- tests ------------------------------------------------------------- */

static void
check_sanitize(const char *in, size_t len, const char *want)
{
	struct kg_buf b = {0};

	assert_int_equal(kg_docx_sanitize(in, len, &b), 0);
	assert_string_equal(kg_buf_str(&b), want);
	kg_buf_free(&b);
}

#define SAN(in, want) check_sanitize(in, sizeof(in) - 1, want)

static void
test_sanitize(void **state)
{
	(void)state;
	SAN("", "");
	SAN("Zażółć gęślą jaźń „ok” – 😀", "Zażółć gęślą jaźń „ok” – 😀");
	SAN("a\tb\nc", "a\tb\nc");
	SAN("a\r\nb\rc\n\rd", "a\nb\nc\n\nd");
	SAN("x\x01\x08\x0b\x0c\x1f\x7fy", "xy");
	SAN("nul\0byte", "nulbyte");
	SAN("c1:\xc2\x80\xc2\x9f|\xc2\xa0|", "c1:|" NBSP "|");
	SAN("nc:\xef\xbf\xbe\xef\xbf\xbf|\xef\xbf\xbd", "nc:|\xef\xbf\xbd");
	SAN("sur:\xed\xa0\x80\xed\xbf\xbf|", "sur:|");
	SAN("over:\xc0\xaf\xe0\x80\xaf\xf0\x80\x80\xaf|", "over:|");
	SAN("big:\xf4\x90\x80\x80\xf8\x88\x80\x80\x80|", "big:|");
	SAN("cut:\xc5", "cut:");
	SAN("cut:\xe2\x80", "cut:");
	SAN("lone:\x80\xbf|\xc5x", "lone:|x");
	SAN("max:\xf4\x8f\xbf\xbf", "max:\xf4\x8f\xbf\xbf");
}

static void
test_parts_well_formed(void **state)
{
	struct fixture *f = *state;
	struct scan s;
	struct pkg p;
	size_t i;

	pkg_open(&p, &f->docx);
	for (i = 0; i < NPARTS; i++) {
		scan_xml(p.part[i], &s);
		assert_int_equal(strncmp(p.part[i], "<?xml version=\"1.0\" "
					 "encoding=\"UTF-8\"", 36), 0);
		kg_buf_free(&s.text);
	}
	pkg_close(&p);
}

static void
test_document_text(void **state)
{
	struct fixture *f = *state;
	const char *doc, *txt;
	struct scan s;
	struct pkg p;
	size_t i;

	pkg_open(&p, &f->docx);
	doc = pkg_part(&p, "word/document.xml");
	scan_xml(doc, &s);
	txt = kg_buf_str(&s.text);
	/* Structure: Title, facts table, 8 headings in order. */
	assert_int_equal(s.n_title, 1);
	assert_int_equal(s.n_tables, 1);
	assert_int_equal(s.n_heading1, 8);
	assert_true(s.n_bold >= 4);
	/* Titles are polished too: "Cel i~uzasadnienie". */
	for (i = 0; i < 8; i++) {
		struct kg_buf want = {0};

		assert_int_equal(kg_typo_polish(section_titles[i], &want), 0);
		assert_int_equal(kg_buf_puts(&want, "\n"), 0);
		assert_non_null(strstr(txt, kg_buf_str(&want)));
		kg_buf_free(&want);
	}
	assert_non_null(strstr(txt, "Cel i" NBSP "uzasadnienie\n"));
	/* Hostile text survives as text, escaped in the markup. */
	assert_non_null(strstr(txt, "Kod </w:t><w:p>&amp; & <script>"
				    "alert('x')</script> „cytat” ctl||||||koniec\n"));
	assert_non_null(strstr(doc, "&lt;/w:t&gt;&lt;w:p&gt;&amp;amp; &amp; "
				    "&lt;script&gt;alert(&apos;x&apos;)"));
	assert_null(strstr(doc, "<script>"));
	assert_null(strstr(doc, "\r"));
	/* Polish text and typography. */
	assert_non_null(strstr(txt, "Zielony Park – rewitalizacja „Stawy” "
				    "& <okolice>\n"));
	assert_non_null(strstr(txt, "Pierwszy akapit w" NBSP "Łodzi – "
				    "2026–2027.Druga linia"));
	assert_non_null(strstr(doc, "Druga linia</w:t><w:tab/><w:t "
				    "xml:space=\"preserve\">z" NBSP
				    "tabulatorem.</w:t></w:r></w:p><w:p>"));
	assert_non_null(strstr(txt, "Fundacja „Łódź & Okolice” <sp. z" NBSP
				    "o.o.>\n"));
	assert_non_null(strstr(txt, "1" NBSP "234" NBSP "567,00" NBSP "zł"));
	assert_non_null(strstr(txt, "Lokalizacja\n"));
	/* The 20,000-character section, whole. */
	assert_non_null(strstr(txt, "Zażółć Zażółć"));
	assert_non_null(strstr(txt, "KONIEC\n"));
	assert_true(strlen(txt) > f->big.len);
	kg_buf_free(&s.text);
	pkg_close(&p);
}

static void
test_styles_and_language(void **state)
{
	struct fixture *f = *state;
	struct scan s;
	struct pkg p;

	pkg_open(&p, &f->docx);
	scan_xml(pkg_part(&p, "word/styles.xml"), &s);
	assert_true(s.lang_pl);
	assert_true(s.h1_outline0);
	assert_true(s.h1_name_at > 0);
	assert_true(s.h1_name_at < s.h1_based_at);
	assert_non_null(strstr(pkg_part(&p, "word/styles.xml"),
			       "w:styleId=\"Title\""));
	assert_non_null(strstr(pkg_part(&p, "word/styles.xml"),
			       "w:type=\"table\" w:styleId=\"TableGrid\""));
	kg_buf_free(&s.text);
	pkg_close(&p);
}

static void
test_header_footer_metadata(void **state)
{
	struct fixture *f = *state;
	const char *core;
	struct scan s;
	struct pkg p;

	pkg_open(&p, &f->docx);
	scan_xml(pkg_part(&p, "word/header1.xml"), &s);
	assert_string_equal(kg_buf_str(&s.text),
			    "Zielony Park – rewitalizacja „Stawy” & <okolice>\n");
	kg_buf_free(&s.text);
	scan_xml(pkg_part(&p, "word/footer1.xml"), &s);
	assert_true(s.instr_page);
	assert_true(s.instr_numpages);
	assert_string_equal(kg_buf_str(&s.text),
			    "Wygenerowano offlineStrona 1 z" NBSP "1\n");
	kg_buf_free(&s.text);
	core = pkg_part(&p, "docProps/core.xml");
	/* Metadata is escaped but not polished. */
	assert_non_null(strstr(core, "<dc:title>Zielony Park – rewitalizacja "
				     "&quot;Stawy&quot; &amp; &lt;okolice&gt;"
				     "</dc:title>"));
	assert_non_null(strstr(core, "<dc:creator>Fundacja Łódź &amp; Spółka"
				     "</dc:creator>"));
	assert_non_null(strstr(core, "<dcterms:created xsi:type=\"dcterms:"
				     "W3CDTF\">2026-03-15T10:00:00Z<"));
	assert_non_null(strstr(pkg_part(&p, "word/_rels/document.xml.rels"),
			       "Target=\"header1.xml\""));
	pkg_close(&p);
}

static uint32_t
le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint16_t
le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Walk the central directory: Office and LibreOffice want DEFLATE (or
 * STORED without data descriptor), no Zip64 records where none are
 * needed, and [Content_Types].xml first. */
static void
test_zip_layout(void **state)
{
	struct fixture *f = *state;
	const unsigned char *z = (const unsigned char *)f->docx.data;
	size_t n = f->docx.len, off, k, entries;
	const unsigned char *eocd, *c, *l;

	assert_true(n > 22);
	eocd = z + n - 22;
	assert_int_equal(le32(eocd), 0x06054b50);	/* no zip comment */
	entries = le16(eocd + 10);
	assert_int_equal(entries, NPARTS);
	assert_null(memmem(z, n, "PK\x06\x06", 4));	/* Zip64 EOCD */
	assert_null(memmem(z, n, "PK\x06\x07", 4));	/* its locator */
	off = le32(eocd + 16);
	for (k = 0; k < entries; k++) {
		size_t nlen, xlen, clen, lo, x;

		assert_true(off + 46 <= n);
		c = z + off;
		assert_int_equal(le32(c), 0x02014b50);
		assert_int_equal(le16(c + 8) & 0x0008, 0);	/* descriptor */
		assert_int_equal(le16(c + 10), 8);		/* DEFLATE */
		nlen = le16(c + 28);
		xlen = le16(c + 30);
		clen = le16(c + 32);
		assert_int_equal(nlen, strlen(required_parts[k]));
		assert_memory_equal(c + 46, required_parts[k], nlen);
		for (x = 0; x + 4 <= xlen; x += 4 + le16(c + 46 + nlen + x + 2))
			assert_int_not_equal(le16(c + 46 + nlen + x), 0x0001);
		lo = le32(c + 42);
		l = z + lo;
		assert_int_equal(le32(l), 0x04034b50);
		assert_int_equal(le16(l + 6) & 0x0008, 0);
		assert_true(le32(l + 18) != 0xffffffff);
		off += 46 + nlen + xlen + clen;
	}
}

static void
test_deterministic_and_appends(void **state)
{
	struct fixture *f = *state;
	struct kg_buf again = {0};
	struct kg_err err = {0};

	assert_int_equal(kg_buf_puts(&again, "prefix"), 0);
	assert_int_equal(kg_docx_build(&f->card, &again, &err), 0);
	assert_int_equal(again.len, 6 + f->docx.len);
	assert_memory_equal(again.data, "prefix", 6);
	assert_memory_equal(again.data + 6, f->docx.data, f->docx.len);
	/* Entry times are UTC: another host's time zone changes nothing. */
	kg_buf_reset(&again);
	setenv("TZ", "Asia/Tokyo", 1);
	tzset();
	assert_int_equal(kg_docx_build(&f->card, &again, &err), 0);
	unsetenv("TZ");
	tzset();
	assert_int_equal(again.len, f->docx.len);
	assert_memory_equal(again.data, f->docx.data, f->docx.len);
	kg_buf_free(&again);
}

static void
test_minimal_card(void **state)
{
	struct kg_docx_card card = {0};
	struct kg_buf out = {0};
	struct kg_err err = {0};
	struct scan s;
	struct pkg p;
	size_t i;

	(void)state;
	assert_int_equal(kg_docx_build(&card, &out, &err), 0);
	pkg_open(&p, &out);
	for (i = 0; i < NPARTS; i++) {
		scan_xml(p.part[i], &s);
		kg_buf_free(&s.text);
	}
	scan_xml(pkg_part(&p, "word/document.xml"), &s);
	assert_int_equal(s.n_title, 1);
	assert_int_equal(s.n_tables, 0);
	assert_int_equal(s.n_heading1, 0);
	kg_buf_free(&s.text);
	assert_non_null(strstr(pkg_part(&p, "docProps/core.xml"),
			       "<dc:title></dc:title>"));
	pkg_close(&p);
	kg_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_parts_well_formed),
		cmocka_unit_test(test_document_text),
		cmocka_unit_test(test_styles_and_language),
		cmocka_unit_test(test_header_footer_metadata),
		cmocka_unit_test(test_zip_layout),
		cmocka_unit_test(test_deterministic_and_appends),
		cmocka_unit_test(test_minimal_card),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
