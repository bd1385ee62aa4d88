/* Unit tests of kg_xlsx.  Every workbook is built here with libzip from
 * XML strings, so each pitfall of PITFALLS.md "Reading .xlsx" and
 * "Untrusted zip and XML" is one small, explicit case.  Rows are compared
 * as a dump: "row:cell|cell|..." where a cell is its type letter (T text,
 * N number, B bool, D date, X error, H time) and text, and an empty
 * cell is "".
 *
 * KG_CORPUS_DIR=dir writes every workbook built here into dir (the fuzz
 * seed corpus is made that way); KG_FIXTURES=dir (default build/fixtures)
 * is where tests/fixtures/make_fixtures.sh put real-world files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "kg_array.h"
#include "kg_xlsx.h"

#define MAIN "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define RELNS \
	"http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define PKG "http://schemas.openxmlformats.org/package/2006/relationships"
#define RT RELNS "/"

#define PKG_RELS                                                        \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"                    \
	"<Relationships xmlns=\"" PKG "\"><Relationship Id=\"rId1\" "   \
	"Type=\"" RT "officeDocument\" Target=\"xl/workbook.xml\"/>"    \
	"</Relationships>"
#define WORKBOOK                                                        \
	"<workbook xmlns=\"" MAIN "\" xmlns:r=\"" RELNS "\"><sheets>"   \
	"<sheet name=\"Arkusz1\" sheetId=\"1\" r:id=\"rId1\"/>"         \
	"</sheets></workbook>"
#define WB_RELS                                                         \
	"<Relationships xmlns=\"" PKG "\">"                             \
	"<Relationship Id=\"rId1\" Type=\"" RT "worksheet\" "           \
	"Target=\"worksheets/sheet1.xml\"/>"                            \
	"<Relationship Id=\"rId2\" Type=\"" RT "sharedStrings\" "       \
	"Target=\"sharedStrings.xml\"/>"                                \
	"<Relationship Id=\"rId3\" Type=\"" RT "styles\" "              \
	"Target=\"styles.xml\"/></Relationships>"
#define SHEET(rows)                                                     \
	"<worksheet xmlns=\"" MAIN "\"><sheetData>" rows                \
	"</sheetData></worksheet>"
#define SST(items) "<sst xmlns=\"" MAIN "\">" items "</sst>"

struct ent {
	const char *name;
	const char *data;
	size_t len;	/* 0: strlen(data) */
};

static unsigned corpus_seq;

static void
save_corpus(const struct kg_buf *b)
{
	const char *dir = getenv("KG_CORPUS_DIR");
	char path[512];
	FILE *f;

	if (!dir)
		return;
	snprintf(path, sizeof(path), "%s/unit%03u.xlsx", dir, ++corpus_seq);
	if ((f = fopen(path, "wb"))) {
		fwrite(b->data, 1, b->len, f);
		fclose(f);
	}
}

/* A zip of the given entries, in memory. */
static void
zipit(const struct ent *e, size_t n, struct kg_buf *out)
{
	zip_source_t *src, *es;
	zip_error_t ze;
	zip_stat_t st;
	zip_t *za;
	size_t i;
	zip_int64_t got;

	zip_error_init(&ze);
	src = zip_source_buffer_create(NULL, 0, 0, &ze);
	assert_non_null(src);
	zip_source_keep(src);
	za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
	assert_non_null(za);
	for (i = 0; i < n; i++) {
		es = zip_source_buffer(za, e[i].data,
				       e[i].len ? e[i].len : strlen(e[i].data),
				       0);
		assert_non_null(es);
		assert_true(zip_file_add(za, e[i].name, es, 0) >= 0);
	}
	assert_int_equal(zip_close(za), 0);
	assert_int_equal(zip_source_stat(src, &st), 0);
	assert_int_equal(zip_source_open(src), 0);
	kg_buf_reset(out);
	{
		char *tmp = malloc(st.size ? st.size : 1);

		assert_non_null(tmp);
		got = zip_source_read(src, tmp, st.size);
		assert_int_equal(got, (zip_int64_t)st.size);
		assert_int_equal(kg_buf_append(out, tmp, st.size), 0);
		free(tmp);
	}
	zip_source_close(src);
	zip_source_free(src);
	zip_error_fini(&ze);
	save_corpus(out);
}

/* A standard workbook; NULL parts are left out (wb NULL: default). */
static void
book(struct kg_buf *out, const char *sheet, const char *sst,
     const char *styles, const char *wb)
{
	struct ent e[6];
	size_t n = 0;

	e[n++] = (struct ent){"_rels/.rels", PKG_RELS, 0};
	e[n++] = (struct ent){"xl/workbook.xml", wb ? wb : WORKBOOK, 0};
	e[n++] = (struct ent){"xl/_rels/workbook.xml.rels", WB_RELS, 0};
	e[n++] = (struct ent){"xl/worksheets/sheet1.xml", sheet, 0};
	if (sst)
		e[n++] = (struct ent){"xl/sharedStrings.xml", sst, 0};
	if (styles)
		e[n++] = (struct ent){"xl/styles.xml", styles, 0};
	zipit(e, n, out);
}

static int
dump_row(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	static const char letter[] = {0, 'T', 'N', 'B', 'D', 'X', 'H'};
	struct kg_buf *b = arg;
	unsigned i;

	kg_buf_printf(b, "%u:", row);
	for (i = 0; i < n; i++) {
		if (i)
			kg_buf_puts(b, "|");
		if (c[i].type != KG_CELL_EMPTY)
			kg_buf_printf(b, "%c%s", letter[c[i].type], c[i].text);
		else
			assert_string_equal(c[i].text, "");
	}
	kg_buf_puts(b, "\n");
	return 0;
}

/* Read `x`; returns kg_xlsx_read's result, rows in *dump. */
static int
rd(const struct kg_buf *x, const struct kg_sheet_limits *lim,
   struct kg_buf *dump, struct kg_err *err)
{
	kg_buf_reset(dump);
	kg_err_clear(err);
	return kg_xlsx_read(x->data, x->len, lim, dump_row, dump, err);
}

/* Build the default book around `sheet` (+ sst, styles) and expect rows. */
static void
expect_rows(const char *sheet, const char *sst, const char *styles,
	    const char *wb, const char *want)
{
	struct kg_buf x = {0}, d = {0};
	struct kg_err err;

	book(&x, sheet, sst, styles, wb);
	if (rd(&x, NULL, &d, &err) != 0)
		fail_msg("read failed: %d %s %s", err.status, err.code,
			 err.message);
	assert_string_equal(kg_buf_str(&d), want);
	kg_buf_free(&x);
	kg_buf_free(&d);
}

/* Expect kg_xlsx_read on `x` to fail with status/code (and message part). */
static void
expect_error(const struct kg_buf *x, const struct kg_sheet_limits *lim,
	     int status, const char *code, const char *part)
{
	struct kg_buf d = {0};
	struct kg_err err;

	assert_int_equal(rd(x, lim, &d, &err), -1);
	assert_int_equal(err.status, status);
	assert_string_equal(err.code, code);
	if (part && !strstr(err.message, part))
		fail_msg("message \"%s\" lacks \"%s\"", err.message, part);
	kg_buf_free(&d);
}

static void
test_cell_types(void **state)
{
	(void)state;
	expect_rows(SHEET("<row r=\"1\">"
			  "<c r=\"A1\" t=\"s\"><v>0</v></c>"
			  "<c r=\"B1\" t=\"s\"><v>1</v></c>"
			  "<c r=\"D1\" t=\"s\"><v>2</v></c></row>"
			  "<row r=\"2\">"
			  "<c r=\"A2\"><v>1234.5</v></c>"
			  "<c r=\"B2\" t=\"b\"><v>1</v></c>"
			  "<c r=\"C2\" t=\"e\"><v>#N/A</v></c>"
			  "<c r=\"D2\" t=\"str\"><f>A2*2</f><v>2469</v></c>"
			  "<c r=\"E2\" t=\"inlineStr\"><is><t>  inline"
			  "\xc2\xa0tekst </t></is></c>"
			  "<c r=\"F2\" t=\"inlineStr\"/>"
			  "<c r=\"G2\" t=\"inlineStr\"><is><r><t>ri</t></r>"
			  "<r><t>ch</t></r></is></c>"
			  "<c r=\"H2\" t=\"b\"><v>0</v></c>"
			  "<c r=\"I2\" s=\"0\"/>"
			  "<c r=\"J2\"><v>0.1</v></c></row>"),
		    SST("<si><t>Nazwa projektu</t></si>"
			"<si><r><t>Bud</t></r><r><rPr><b/></rPr>"
			"<t>\xc5\xbc" "et</t></r>"
			"<rPh sb=\"0\" eb=\"1\"><t>PHON</t></rPh></si>"
			"<si><t xml:space=\"preserve\"> Opis\n</t></si>"),
		    NULL, NULL,
		    "1:TNazwa projektu|TBud\xc5\xbc" "et||TOpis\n"
		    "2:N1234.5|BTRUE|X#N/A|T2469|Tinline tekst||Trich|"
		    "BFALSE||N0.1\n");
}

/* Number cells read without strtod when they are plain decimals of at
 * most 15 digits: the same doubles (and texts) as strtod's. */
static void
test_number_forms(void **state)
{
	(void)state;
	expect_rows(SHEET("<row r=\"1\"><c><v>0.1</v></c><c><v>-0</v></c>"
			  "<c><v>1.</v></c><c><v>.5</v></c>"
			  "<c><v>0001.50</v></c><c><v>123456789012345</v></c>"
			  "<c><v>1234567890123456</v></c><c><v>1e3</v></c>"
			  "<c><v> 12</v></c><c><v>12 </v></c>"
			  "<c><v>-524184.75</v></c><c><v>0.000000000000001</v></c>"
			  "<c><v>9.99999999999999</v></c><c><v>1-2</v></c>"
			  "<c><v>-</v></c><c><v>1.2.3</v></c></row>"),
		    NULL, NULL, NULL,
		    "1:N0.1|N0|N1|N0.5|N1.5|N123456789012345|"
		    "N1234567890123456|N1000|N12|N12|N-524184.75|N1e-15|"
		    "N9.99999999999999|T1-2|T-|T1.2.3\n");
}

/* Random plain decimals of 1-17 digits: each read as strtod reads it. */
static void
test_number_forms_random(void **state)
{
	struct kg_buf sheet = {0}, want = {0};
	unsigned seed = 19;
	char v[24], text[32];

	(void)state;
	kg_buf_puts(&sheet, "<worksheet xmlns=\"" MAIN "\"><sheetData>");
	for (unsigned r = 1; r <= 1000; r++) {
		kg_buf_printf(&sheet, "<row r=\"%u\">", r);
		kg_buf_printf(&want, "%u:", r);
		for (int c = 0; c < 4; c++) {
			size_t n = 0, digits, dot;

			seed = seed * 1103515245 + 12345;
			digits = 1 + seed / 65536 % 17;
			dot = seed / 16 % (digits + 2);
			if (seed % 5 == 0)
				v[n++] = '-';
			for (size_t i = 0; i < digits; i++) {
				if (i == dot && i)
					v[n++] = '.';
				seed = seed * 1103515245 + 12345;
				v[n++] = (char)('0' + seed / 65536 % 10);
			}
			v[n] = '\0';
			kg_sheet_number_text(strtod(v, NULL), text);
			kg_buf_printf(&sheet, "<c><v>%s</v></c>", v);
			kg_buf_printf(&want, "%sN%s", c ? "|" : "", text);
		}
		kg_buf_puts(&sheet, "</row>");
		kg_buf_puts(&want, "\n");
	}
	kg_buf_puts(&sheet, "</sheetData></worksheet>");
	expect_rows(sheet.data, NULL, NULL, NULL, want.data);
	kg_buf_free(&sheet);
	kg_buf_free(&want);
}

static void
test_no_r_attributes(void **state)
{
	(void)state;
	/* Power BI style: no r on cells; rows without r follow the last
	 * row; a cell with r resets the running column. */
	expect_rows(SHEET("<row><c t=\"inlineStr\"><is><t>a</t></is></c>"
			  "<c><v>1</v></c><c/><c><v>3</v></c></row>"
			  "<row r=\"4\"><c r=\"C4\"><v>5</v></c><c><v>6</v>"
			  "</c></row>"
			  "<row><c><v>7</v></c></row>"),
		    NULL, NULL, NULL,
		    "1:Ta|N1||N3\n4:||N5|N6\n5:N7\n");
}

static void
test_absolute_target_prefixed_ns(void **state)
{
	struct kg_buf x = {0}, d = {0};
	struct kg_err err;
	const struct ent e[] = {
		{"_rels/.rels",
		 "<pr:Relationships xmlns:pr=\"" PKG "\"><pr:Relationship "
		 "Id=\"R1\" Type=\"" RT "officeDocument\" "
		 "Target=\"/xl/workbook.xml\"/></pr:Relationships>", 0},
		{"xl/workbook.xml",
		 "<x:workbook xmlns:x=\"" MAIN "\" xmlns:rr=\"" RELNS "\">"
		 "<x:sheets><x:sheet name=\"S\" sheetId=\"1\" rr:id=\"a\"/>"
		 "</x:sheets></x:workbook>", 0},
		{"xl/_rels/workbook.xml.rels",
		 "<p:Relationships xmlns:p=\"" PKG "\"><p:Relationship "
		 "Id=\"a\" Type=\"" RT "worksheet\" "
		 "Target=\"/xl/worksheets/../worksheets/data.xml\"/>"
		 "<p:Relationship Id=\"b\" Type=\"" RT "sharedStrings\" "
		 "Target=\"/xl/strings.xml\"/></p:Relationships>", 0},
		{"xl/worksheets/data.xml",
		 "<x:worksheet xmlns:x=\"" MAIN "\"><x:sheetData><x:row "
		 "r=\"1\"><x:c r=\"A1\" t=\"s\"><x:v>0</x:v></x:c></x:row>"
		 "</x:sheetData></x:worksheet>", 0},
		{"xl/strings.xml",
		 "<s:sst xmlns:s=\"" MAIN "\"><s:si><s:t>ok</s:t></s:si>"
		 "</s:sst>", 0},
	};

	(void)state;
	zipit(e, 5, &x);
	assert_int_equal(rd(&x, NULL, &d, &err), 0);
	assert_string_equal(kg_buf_str(&d), "1:Tok\n");
	kg_buf_free(&x);
	kg_buf_free(&d);
}

static void
test_wrong_namespace_ignored(void **state)
{
	(void)state;
	/* Same local names, another namespace: not SpreadsheetML. */
	expect_rows("<worksheet xmlns=\"" MAIN "\" xmlns:o=\"urn:other\">"
		    "<sheetData><row r=\"1\"><c r=\"A1\"><v>1</v></c>"
		    "<o:c r=\"B1\"><o:v>2</o:v></o:c></row></sheetData>"
		    "</worksheet>",
		    NULL, NULL, NULL, "1:N1\n");
}

/* The sheet and the shared strings are parsed without expat's namespace
 * processing (kg_xlsx keeps the declarations itself): scopes, prefixes
 * and what expat would refuse must come out as expat's. */
static void
test_namespace_scopes(void **state)
{
	struct kg_buf x = {0};

	(void)state;
	/* a default namespace redeclared inside, and back; a prefix bound
	 * to the main namespace on an inner element only; xmlns="" is no
	 * namespace (read, as a file without xmlns is) */
	expect_rows("<worksheet xmlns=\"" MAIN "\"><sheetData>"
		    "<row r=\"1\"><c r=\"A1\"><v>1</v></c>"
		    "<c r=\"B1\" xmlns=\"urn:other\"><v>2</v></c>"
		    "<c r=\"C1\"><v>3</v></c>"
		    "<m:c xmlns:m=\"" MAIN "\" r=\"D1\"><m:v>4</m:v></m:c>"
		    "<c r=\"E1\" xmlns=\"\"><v>5</v></c></row>"
		    "</sheetData></worksheet>",
		    SST("<si xmlns=\"urn:other\"><t>no</t></si>"
			"<x:si xmlns:x=\"" MAIN "\"><x:t>yes</x:t></x:si>"),
		    NULL, NULL, "1:N1||N3|N4|N5\n");
	expect_rows(SHEET("<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c>"
			  "</row>"),
		    SST("<si xmlns=\"urn:other\"><t>no</t></si>"
			"<x:si xmlns:x=\"" MAIN "\"><x:t>yes</x:t></x:si>"),
		    NULL, NULL, "1:Tyes\n");
	/* a prefix bound nowhere, on an element or an attribute, or
	 * declared empty: not well-formed with namespaces */
	book(&x, SHEET("<row r=\"1\"><q:c r=\"A1\"><v>1</v></q:c></row>"),
	     NULL, NULL, NULL);
	expect_error(&x, NULL, 400, "bad_xlsx", "unbound prefix");
	book(&x, SHEET("<row r=\"1\"><c q:r=\"A1\"><v>1</v></c></row>"),
	     NULL, NULL, NULL);
	expect_error(&x, NULL, 400, "bad_xlsx", "unbound prefix");
	/* out of scope after its element ends */
	book(&x, SHEET("<row r=\"1\" xmlns:q=\"" MAIN "\"/>"
		       "<row r=\"2\"><q:c r=\"A2\"><v>1</v></q:c></row>"),
	     NULL, NULL, NULL);
	expect_error(&x, NULL, 400, "bad_xlsx", "unbound prefix");
	book(&x, SHEET("<row r=\"1\" xmlns:q=\"\"/>"), NULL, NULL, NULL);
	expect_error(&x, NULL, 400, "bad_xlsx", "undeclare prefix");
	book(&x, SHEET("<row r=\"1\"/>"), SST("<si><q:t>a</q:t></si>"),
	     NULL, NULL);
	expect_error(&x, NULL, 400, "bad_xlsx", "sharedStrings.xml");
	kg_buf_free(&x);
}

static void
test_strict_namespaces(void **state)
{
	struct kg_buf x = {0}, d = {0};
	struct kg_err err;
#define SMAIN "http://purl.oclc.org/ooxml/spreadsheetml/main"
#define SREL "http://purl.oclc.org/ooxml/officeDocument/relationships"
	const struct ent e[] = {
		{"_rels/.rels",
		 "<Relationships xmlns=\"" PKG "\"><Relationship Id=\"rId1\" "
		 "Type=\"" SREL "/officeDocument\" Target=\"xl/workbook.xml\"/>"
		 "</Relationships>", 0},
		{"xl/workbook.xml",
		 "<workbook xmlns=\"" SMAIN "\" xmlns:r=\"" SREL "\">"
		 "<workbookPr date1904=\"false\"/><sheets><sheet name=\"S\" "
		 "sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>", 0},
		{"xl/_rels/workbook.xml.rels",
		 "<Relationships xmlns=\"" PKG "\"><Relationship Id=\"rId1\" "
		 "Type=\"" SREL "/worksheet\" Target=\"worksheets/sheet1.xml\"/>"
		 "<Relationship Id=\"rId2\" Type=\"" SREL "/styles\" "
		 "Target=\"styles.xml\"/></Relationships>", 0},
		{"xl/worksheets/sheet1.xml",
		 "<worksheet xmlns=\"" SMAIN "\"><sheetData><row r=\"1\">"
		 "<c r=\"A1\" s=\"1\"><v>45306</v></c><c r=\"B1\" "
		 "t=\"inlineStr\"><is><t>strict</t></is></c></row>"
		 "</sheetData></worksheet>", 0},
		{"xl/styles.xml",
		 "<styleSheet xmlns=\"" SMAIN "\"><cellXfs count=\"2\"><xf/>"
		 "<xf numFmtId=\"14\"/></cellXfs></styleSheet>", 0},
	};

	(void)state;
	zipit(e, 5, &x);
	assert_int_equal(rd(&x, NULL, &d, &err), 0);
	assert_string_equal(kg_buf_str(&d), "1:D2024-01-15|Tstrict\n");
	kg_buf_free(&x);
	kg_buf_free(&d);
}

#define STYLES                                                          \
	"<styleSheet xmlns=\"" MAIN "\"><numFmts count=\"5\">"          \
	"<numFmt numFmtId=\"164\" formatCode=\"dd\\.mm\\.yyyy\"/>"      \
	"<numFmt numFmtId=\"165\" formatCode=\"mm:ss\"/>"               \
	"<numFmt numFmtId=\"166\" formatCode=\"[Red]0.00\"/>"           \
	"<numFmt numFmtId=\"167\" formatCode=\"&quot;dni&quot; 0\"/>"   \
	"<numFmt numFmtId=\"168\" formatCode=\"yyyy-mm-dd h:mm:ss\"/>"  \
	"</numFmts><cellStyleXfs count=\"1\"><xf numFmtId=\"14\"/>"     \
	"</cellStyleXfs><cellXfs count=\"8\"><xf numFmtId=\"0\"/>"      \
	"<xf numFmtId=\"14\"/><xf numFmtId=\"164\"/>"                   \
	"<xf numFmtId=\"165\"/><xf numFmtId=\"166\"/>"                  \
	"<xf numFmtId=\"167\"/><xf numFmtId=\"168\"/><xf numFmtId=\"4\"/>" \
	"</cellXfs></styleSheet>"

static void
test_dates(void **state)
{
	(void)state;
	expect_rows(SHEET("<row r=\"1\"><c s=\"1\"><v>59</v></c>"
			  "<c s=\"1\"><v>60</v></c><c s=\"1\"><v>61</v></c>"
			  "<c s=\"2\"><v>45306</v></c>"
			  "<c s=\"3\"><v>0.5</v></c>"
			  "<c s=\"4\"><v>45306</v></c>"
			  "<c s=\"5\"><v>45306</v></c>"
			  "<c s=\"6\"><v>45306.5</v></c>"
			  "<c s=\"7\"><v>45306</v></c>"
			  "<c s=\"99\"><v>45306</v></c>"
			  "<c s=\"1\"><v>-3</v></c>"
			  "<c t=\"d\"><v>2024-01-15T00:00:00</v></c></row>"),
		    NULL, STYLES, NULL,
		    "1:D1900-02-28|D1900-02-29|D1900-03-01|D2024-01-15|H00:00|"
		    "N45306|N45306|D2024-01-15 12:00:00|N45306|N45306|N-3|"
		    "D2024-01-15\n");
}

/* Built-in 20 h:mm, 21 h:mm:ss, 22 m/d/yyyy h:mm, 46 [h]:mm:ss, 45
 * mm:ss and custom ones: the text the format shows, in 24-hour form. */
#define TIME_STYLES                                                     \
	"<styleSheet xmlns=\"" MAIN "\"><numFmts count=\"3\">"          \
	"<numFmt numFmtId=\"164\" formatCode=\"hh:mm;@\"/>"             \
	"<numFmt numFmtId=\"165\" formatCode=\"[hh]:mm\"/>"             \
	"<numFmt numFmtId=\"166\" formatCode=\"dd.mm.yyyy hh:mm\"/>"    \
	"</numFmts><cellXfs count=\"9\"><xf numFmtId=\"0\"/>"             \
	"<xf numFmtId=\"20\"/><xf numFmtId=\"21\"/><xf numFmtId=\"22\"/>"  \
	"<xf numFmtId=\"46\"/><xf numFmtId=\"45\"/><xf numFmtId=\"164\"/>" \
	"<xf numFmtId=\"165\"/><xf numFmtId=\"166\"/></cellXfs></styleSheet>"

static void
test_times(void **state)
{
	(void)state;
	/* 13:20 is 0.5555...; 37.5 hours is 1.5625 days */
	expect_rows(SHEET("<row r=\"1\"><c s=\"1\"><v>0.55555555555555558</v>"
			  "</c><c s=\"2\"><v>0.55561342592592597</v></c>"
			  "<c s=\"3\"><v>46082.555555555555</v></c>"
			  "<c s=\"4\"><v>1.5625</v></c>"
			  "<c s=\"5\"><v>0.013946759259259259</v></c>"
			  "<c s=\"6\"><v>0.34375</v></c>"
			  "<c s=\"7\"><v>1.5625</v></c>"
			  "<c s=\"8\"><v>46082.555555555555</v></c>"
			  "<c s=\"1\"><v>1.25</v></c>"
			  "<c s=\"2\"><v>0.99999999</v></c>"
			  "<c s=\"3\"><v>-1</v></c></row>"
			  "<row r=\"2\"><c t=\"d\"><v>2026-03-01T13:20:00Z</v></c>"
			  "<c t=\"d\"><v>2026-03-01T13:20:05.123</v></c>"
			  "<c t=\"d\"><v>2026-03-01T00:00:00</v></c></row>"),
		    NULL, TIME_STYLES, NULL,
		    "1:H13:20|H13:20:05|D2026-03-01 13:20|H37:30:00|H20:05|"
		    "H08:15|H37:30|D2026-03-01 13:20|H06:00|H00:00:00|N-1\n"
		    "2:D2026-03-01 13:20|D2026-03-01 13:20:05|D2026-03-01\n");
}

static void
test_inline_string_with_v(void **state)
{
	(void)state;
	/* the inline string, not glued to the <v> beside it */
	expect_rows(SHEET("<row r=\"1\"><c t=\"inlineStr\"><is><t>1.</t></is>"
			  "<v>1.0</v></c><c t=\"inlineStr\"><v>1.0</v>"
			  "<is><t>a</t><r><t>b</t></r></is></c>"
			  "<c t=\"inlineStr\"><v>tylko v</v></c></row>"),
		    NULL, NULL, NULL, "1:T1.|Tab|Ttylko v\n");
}

static void
test_date1904(void **state)
{
	(void)state;
	expect_rows(SHEET("<row r=\"1\"><c s=\"1\"><v>0</v></c>"
			  "<c s=\"1\"><v>43844</v></c></row>"),
		    NULL, STYLES,
		    "<workbook xmlns=\"" MAIN "\" xmlns:r=\"" RELNS "\">"
		    "<workbookPr date1904=\"1\"/><sheets><sheet name=\"A\" "
		    "sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>",
		    "1:D1904-01-01|D2024-01-15\n");
}

static void
test_hidden_first_sheet(void **state)
{
	(void)state;
	/* The hidden sheet's rel points nowhere useful: it must not be
	 * opened at all. */
	expect_rows(SHEET("<row r=\"1\"><c><v>1</v></c></row>"), NULL, NULL,
		    "<workbook xmlns=\"" MAIN "\" xmlns:r=\"" RELNS "\">"
		    "<sheets><sheet name=\"H\" sheetId=\"2\" state=\"hidden\" "
		    "r:id=\"rId9\"/><sheet name=\"A\" sheetId=\"1\" "
		    "r:id=\"rId1\"/></sheets></workbook>",
		    "1:N1\n");
}

static void
test_merged_header(void **state)
{
	(void)state;
	/* The value lives in the top-left cell only; the others of the
	 * range stay empty, as stored. */
	expect_rows("<worksheet xmlns=\"" MAIN "\"><sheetData><row r=\"1\">"
		    "<c r=\"A1\" t=\"inlineStr\"><is><t>Termin</t></is></c>"
		    "<c r=\"B1\" s=\"0\"/><c r=\"C1\" t=\"inlineStr\"><is><t>"
		    "Opis</t></is></c></row><row r=\"2\"><c r=\"A2\"><v>1</v>"
		    "</c><c r=\"B2\"><v>2</v></c><c r=\"C2\"><v>3</v></c>"
		    "</row></sheetData><mergeCells count=\"1\"><mergeCell "
		    "ref=\"A1:B1\"/></mergeCells></worksheet>",
		    NULL, NULL, NULL, "1:TTermin||TOpis\n2:N1|N2|N3\n");
}

static void
test_blank_rows_and_limit(void **state)
{
	struct kg_sheet_limits lim;
	struct kg_buf x = {0}, d = {0}, s = {0};
	struct kg_err err;
	unsigned i;

	(void)state;
	kg_buf_puts(&s, "<worksheet xmlns=\"" MAIN "\"><sheetData>");
	kg_buf_puts(&s, "<row r=\"1\"><c t=\"inlineStr\"><is><t>h</t></is>"
			"</c></row>");
	for (i = 2; i <= 2000; i++)	/* blank: nothing, spaces, styled */
		kg_buf_printf(&s, "<row r=\"%u\"><c r=\"A%u\" t=\"inlineStr\">"
			      "<is><t> \xc2\xa0</t></is></c><c r=\"B%u\" "
			      "s=\"3\"/></row>", i, i, i);
	for (i = 2001; i <= 2003; i++)
		kg_buf_printf(&s, "<row r=\"%u\"><c><v>%u</v></c></row>", i,
			      i);
	kg_buf_puts(&s, "</sheetData></worksheet>");
	book(&x, kg_buf_str(&s), NULL, NULL, NULL);
	kg_sheet_limits_default(&lim);
	lim.max_rows = 3;
	assert_int_equal(rd(&x, &lim, &d, &err), 0);
	assert_string_equal(kg_buf_str(&d),
			    "1:Th\n2001:N2001\n2002:N2002\n2003:N2003\n");
	lim.max_rows = 2;
	expect_error(&x, &lim, 422, "too_many_rows", "more than 2 data rows");
	kg_buf_free(&x);
	kg_buf_free(&d);
	kg_buf_free(&s);
}

static int
stop_after_one(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	(void)row, (void)c, (void)n;
	++*(int *)arg;
	return 1;
}

static void
test_callback_stops(void **state)
{
	struct kg_buf x = {0};
	struct kg_err err = {0};
	int calls = 0;

	(void)state;
	book(&x, SHEET("<row><c><v>1</v></c></row><row><c><v>2</v></c></row>"),
	     NULL, NULL, NULL);
	assert_int_equal(kg_xlsx_read(x.data, x.len, NULL, stop_after_one,
				      &calls, &err), 1);
	assert_int_equal(calls, 1);
	kg_buf_free(&x);
}

static void
test_doctype_refused(void **state)
{
	struct kg_buf x = {0};

	(void)state;
	book(&x, "<?xml version=\"1.0\"?><!DOCTYPE worksheet [<!ENTITY xxe "
		 "SYSTEM \"file:///etc/passwd\">]>"
		 SHEET("<row><c t=\"inlineStr\"><is><t>&xxe;</t></is></c>"
		       "</row>"), NULL, NULL, NULL);
	expect_error(&x, NULL, 400, "xml_forbidden",
		     "document type declarations are not allowed");
	kg_buf_free(&x);
}

static void
test_billion_laughs_refused(void **state)
{
	struct kg_buf x = {0};

	(void)state;
	book(&x, SHEET("<row><c t=\"s\"><v>0</v></c></row>"),
	     "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
	     "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
	     "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">"
	     "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
	     "]>" SST("<si><t>&lol3;</t></si>"), NULL, NULL);
	expect_error(&x, NULL, 400, "xml_forbidden", NULL);
	kg_buf_free(&x);
}

static void
test_zip_bomb(void **state)
{
	struct kg_sheet_limits lim;
	struct kg_buf x = {0}, s = {0};
	const size_t pad = 4u << 20;

	(void)state;
	/* 4 MiB of spaces inside sheetData: well-formed, and deflate packs
	 * it about 1000:1. */
	kg_buf_puts(&s, "<worksheet xmlns=\"" MAIN "\"><sheetData>");
	kg_buf_append(&s, "", 0);
	{
		char *sp = malloc(pad);

		memset(sp, ' ', pad);
		kg_buf_append(&s, sp, pad);
		free(sp);
	}
	kg_buf_puts(&s, "</sheetData></worksheet>");
	book(&x, kg_buf_str(&s), NULL, NULL, NULL);
	assert_true(x.len < 64 * 1024);
	/* per-entry ratio with the default limits */
	expect_error(&x, NULL, 400, "zip_bomb", "compressed more than 100:1");
	/* total inflated bytes, ratio switched off */
	kg_sheet_limits_default(&lim);
	lim.max_ratio = 1000000;
	lim.max_uncompressed = 1u << 20;
	expect_error(&x, &lim, 400, "zip_bomb", "inflates to more than 1 MiB");
	/* entry count */
	kg_sheet_limits_default(&lim);
	lim.max_entries = 3;
	expect_error(&x, &lim, 400, "zip_bomb", "more than 3 entries");
	kg_buf_free(&x);
	kg_buf_free(&s);
}

static void
test_traversal_ignored(void **state)
{
	struct kg_buf x = {0};
	const struct ent e[] = {
		{"_rels/.rels", PKG_RELS, 0},
		{"xl/workbook.xml", WORKBOOK, 0},
		{"xl/_rels/workbook.xml.rels", WB_RELS, 0},
		/* the only copy of the sheet hides behind "..": ignored */
		{"xl/worksheets/../worksheets/sheet1.xml",
		 SHEET("<row><c><v>1</v></c></row>"), 0},
		{"../../etc/evil.xml", "<x/>", 0},
	};
	const struct ent abs[] = {
		{"/xl/workbook.xml", WORKBOOK, 0},
	};

	(void)state;
	zipit(e, 5, &x);
	expect_error(&x, NULL, 400, "not_xlsx", "first worksheet");
	zipit(abs, 1, &x);
	expect_error(&x, NULL, 400, "not_xlsx", "no xl/workbook.xml");
	kg_buf_free(&x);
}

static void
put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

/* A minimal CFB (OLE2) file: header, one FAT sector, one directory
 * sector with the root entry and a stream called `stream`. */
static void
cfb(struct kg_buf *out, const char *stream)
{
	unsigned char f[3 * 512];
	size_t i;

	memset(f, 0, sizeof(f));
	memcpy(f, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
	f[0x18] = 0x3e;
	f[0x1a] = 3;
	f[0x1c] = 0xfe;
	f[0x1d] = 0xff;
	f[0x1e] = 9;			/* 512-byte sectors */
	f[0x20] = 6;
	put32(f + 0x2c, 1);		/* one FAT sector ... */
	put32(f + 0x30, 1);		/* directory in sector 1 */
	put32(f + 0x3c, 0xfffffffe);
	put32(f + 0x44, 0xfffffffe);
	for (i = 0; i < 109; i++)
		put32(f + 0x4c + 4 * i, 0xffffffff);
	put32(f + 0x4c, 0);		/* ... which is sector 0 */
	memset(f + 512, 0xff, 512);
	put32(f + 512, 0xfffffffd);	/* sector 0: FAT */
	put32(f + 516, 0xfffffffe);	/* sector 1: end of chain */
	for (i = 0; i < 10; i++)
		f[1024 + 2 * i] = (unsigned char)"Root Entry"[i];
	f[1024 + 0x40] = 22;
	f[1024 + 0x42] = 5;
	for (i = 0; stream[i]; i++)
		f[1024 + 128 + 2 * i] = (unsigned char)stream[i];
	f[1024 + 128 + 0x40] = (unsigned char)(2 * (i + 1));
	f[1024 + 128 + 0x42] = 2;
	kg_buf_reset(out);
	kg_buf_append(out, f, sizeof(f));
}

/* Replace every `from` in b by `to` (same length): a zip's names are
 * stored as they are, in the local and the central headers. */
static void
patch_all(struct kg_buf *b, const char *from, const char *to)
{
	size_t n = strlen(from), i;

	for (i = 0; i + n <= b->len; i++)
		if (!memcmp(b->data + i, from, n))
			memcpy(b->data + i, to, n);
}

/* What Excel and Python's zipfile open although libzip's strict checks
 * (ZIP_CHECKCONS) call it inconsistent, and Windows exporters' names. */
static void
test_lenient_packages(void **state)
{
	struct kg_buf x = {0}, d = {0};
	struct kg_err err;
	const struct ent bs[] = {
		{"_rels\\.rels", PKG_RELS, 0},
		{"xl\\workbook.xml", WORKBOOK, 0},
		{"xl\\_rels\\workbook.xml.rels", WB_RELS, 0},
		{"xl\\worksheets\\sheet1.xml",
		 SHEET("<row><c><v>7</v></c></row>"), 0},
	};
	const struct ent dup[] = {
		{"_rels/.rels", PKG_RELS, 0},
		{"xl/workbook.xml", WORKBOOK, 0},
		{"xl/_rels/workbook.xml.rels", WB_RELS, 0},
		{"xl/worksheets/sheet1.xml", SHEET("<row><c><v>1</v></c></row>"),
		 0},
		{"xl/worksheets/sheet9.xml", SHEET("<row><c><v>2</v></c></row>"),
		 0},
	};
	const struct ent badrels[] = {
		{"_rels/.rels", "<Relationships><oops", 0},
		{"xl/workbook.xml", WORKBOOK, 0},
		{"xl/_rels/workbook.xml.rels", WB_RELS, 0},
		{"xl/worksheets/sheet1.xml", SHEET("<row><c><v>3</v></c></row>"),
		 0},
	};

	(void)state;
	zipit(bs, 4, &x);
	assert_int_equal(rd(&x, NULL, &d, &err), 0);
	assert_string_equal(kg_buf_str(&d), "1:N7\n");
	/* a name held twice: the last one, as zipfile and calamine */
	zipit(dup, 5, &x);
	patch_all(&x, "sheet9.xml", "sheet1.xml");
	assert_int_equal(rd(&x, NULL, &d, &err), 0);
	assert_string_equal(kg_buf_str(&d), "1:N2\n");
	/* a local header whose time disagrees with the central directory */
	zipit(dup, 4, &x);
	x.data[10] ^= 0x21;
	assert_int_equal(rd(&x, NULL, &d, &err), 0);
	assert_string_equal(kg_buf_str(&d), "1:N1\n");
	/* broken package rels: Excel repairs and opens xl/workbook.xml */
	zipit(badrels, 4, &x);
	assert_int_equal(rd(&x, NULL, &d, &err), 0);
	assert_string_equal(kg_buf_str(&d), "1:N3\n");
	/* no central directory at all: refused, saying how to repair */
	x.len -= 22;
	expect_error(&x, NULL, 400, "damaged", "zapisz ponownie");
	kg_buf_free(&x);
	kg_buf_free(&d);
}

static void
test_not_xlsx(void **state)
{
	struct kg_buf x = {0};
	struct kg_sheet_limits lim;
	const struct ent docx[] = {
		{"[Content_Types].xml", "<Types/>", 0},
		{"_rels/.rels",
		 "<Relationships xmlns=\"" PKG "\"><Relationship Id=\"rId1\" "
		 "Type=\"" RT "officeDocument\" Target=\"word/document.xml\"/>"
		 "</Relationships>", 0},
		{"word/document.xml", "<w:document xmlns:w=\"urn:w\"/>", 0},
	};

	(void)state;
	kg_buf_puts(&x, "Nazwa;Opis\nA;B\n");
	expect_error(&x, NULL, 400, "not_xlsx", "not a zip archive");
	kg_buf_reset(&x);
	kg_buf_append(&x, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
	expect_error(&x, NULL, 400, "not_xlsx", ".xls");
	cfb(&x, "Workbook");
	expect_error(&x, NULL, 400, "unsupported_format", "Excel 97-2003 .xls");
	cfb(&x, "EncryptionInfo");
	expect_error(&x, NULL, 400, "encrypted", "password");
	cfb(&x, "WordDocument");
	expect_error(&x, NULL, 400, "not_xlsx", "not an .xlsx");
	kg_buf_reset(&x);
	expect_error(&x, NULL, 400, "not_xlsx", NULL);	/* empty */
	zipit(docx, 3, &x);
	expect_error(&x, NULL, 400, "not_xlsx", "not an .xlsx workbook");
	kg_sheet_limits_default(&lim);
	lim.max_file = 100;
	expect_error(&x, &lim, 413, "too_large", NULL);
	kg_buf_free(&x);
}

static void
test_truncated_and_corrupt(void **state)
{
	struct kg_buf x = {0}, d = {0};
	struct kg_err err;
	size_t i, full;

	(void)state;
	book(&x, SHEET("<row><c t=\"inlineStr\"><is><t>dane dane dane dane"
		       "</t></is></c></row>"), NULL, NULL, NULL);
	full = x.len;
	/* every truncation point fails cleanly, none crashes */
	for (i = full - 1; i > 7; i -= 7) {
		x.len = i;
		assert_int_equal(rd(&x, NULL, &d, &err), -1);
		if (err.status != 400)
			fail_msg("cut at %zu: %d %s %s", i, err.status,
				 err.code, err.message);
	}
	x.len = full / 2;
	expect_error(&x, NULL, 400, "damaged", "damaged or truncated");
	/* flip bytes in the middle: CRC or inflate error, or bad XML */
	x.len = full;
	for (i = 40; i < full - 120; i += 13) {
		x.data[i] ^= 0x55;
		kg_buf_reset(&d);
		kg_xlsx_read(x.data, x.len, NULL, dump_row, &d, &err);
		x.data[i] ^= 0x55;
	}
	kg_buf_free(&x);
	kg_buf_free(&d);
}

static void
test_bad_references(void **state)
{
	struct kg_buf x = {0};
	struct kg_sheet_limits lim;

	(void)state;
	book(&x, SHEET("<row><c t=\"s\"><v>1</v></c></row>"),
	     SST("<si><t>x</t></si>"), NULL, NULL);
	expect_error(&x, NULL, 400, "bad_xlsx", "cell A1");
	book(&x, SHEET("<row r=\"2\"/><row r=\"1\"><c><v>1</v></c></row>"),
	     NULL, NULL, NULL);
	expect_error(&x, NULL, 400, "bad_sheet", "row 1 comes after row 2");
	book(&x, SHEET("<row><c r=\"BM1\"><v>1</v></c></row>"), NULL, NULL,
	     NULL);
	expect_error(&x, NULL, 400, "too_many_columns", "BM1");
	book(&x, SHEET("<row><c r=\"1A\"><v>1</v></c></row>"), NULL, NULL,
	     NULL);
	expect_error(&x, NULL, 400, "bad_xlsx", "cell reference");
	book(&x, SHEET("<row><c><v>1</v></row>"), NULL, NULL, NULL);
	expect_error(&x, NULL, 400, "bad_xlsx", "not well-formed");
	book(&x, SHEET("<row><c t=\"s\"><v>0</v></c></row>"),
	     SST("<si><t>abcdefghij</t></si><si><t>abcdefghij</t></si>"),
	     NULL, NULL);
	kg_sheet_limits_default(&lim);
	lim.max_shared_strings = 30;
	expect_error(&x, &lim, 400, "shared_strings_too_large", NULL);
	kg_buf_free(&x);
}

/* ---- the scanner (kg_xmlscan) against expat --------------------------- */

/* Every detail of a row: type, text and number of each cell. */
static int
dump_exact(void *arg, unsigned row, const struct kg_cell *c, unsigned n)
{
	struct kg_buf *b = arg;
	unsigned i;

	kg_buf_printf(b, "%u:", row);
	for (i = 0; i < n; i++)
		kg_buf_printf(b, "%s%d/%s/%.17g", i ? "|" : "", (int)c[i].type,
			      c[i].text, c[i].number);
	kg_buf_puts(b, "\n");
	return 0;
}

/* One reading of x: its rows, then its result and error. */
static void
read_how(const struct kg_buf *x, struct kg_xlsx_how *how, struct kg_buf *d)
{
	struct kg_err err = {0};
	int rc;

	kg_buf_reset(d);
	rc = kg_xlsx_read_how(x->data, x->len, NULL, how, dump_exact, d, &err);
	kg_buf_printf(d, "rc=%d", rc);
	if (rc < 0)
		kg_buf_printf(d, " %d %s %s", err.status, err.code,
			      err.message);
}

/*
 * x read as kg_xlsx_read reads it (the scanner first) and by expat
 * alone, `chunk` bytes inflated per call both times (expat's choice
 * between two errors can depend on where its pieces end): the same
 * rows, cell for cell, the same result and error.  Returns the number
 * of parts the scanner left to expat.
 */
static unsigned
same_both_ways(const struct kg_buf *x, size_t chunk, const char *what)
{
	struct kg_xlsx_how scan = {KG_XLSX_SCAN, chunk, 0, 0};
	struct kg_xlsx_how expat = {KG_XLSX_EXPAT, chunk, 0, 0};
	struct kg_buf a = {0}, b = {0};

	read_how(x, &scan, &a);
	read_how(x, &expat, &b);
	if (strcmp(kg_buf_str(&a), kg_buf_str(&b)))
		fail_msg("%s in %zu-byte pieces:\nscanner+expat:\n%s\n"
			 "expat:\n%s", what, chunk, kg_buf_str(&a),
			 kg_buf_str(&b));
	assert_int_equal(expat.scanned + expat.fell_back, 0);
	kg_buf_free(&a);
	kg_buf_free(&b);
	return scan.fell_back;
}

/* The default book around sheet (and sst): the same both ways in
 * pieces of several sizes, and the scanner reads `scanned` parts
 * itself and leaves `fell_back` to expat. */
static void
expect_scan(const char *sheet, const char *sst, unsigned fell_back)
{
	static const size_t chunks[] = {0, 1, 2, 3, 7, 61};
	struct kg_buf x = {0};
	size_t i;

	book(&x, sheet, sst, STYLES, NULL);
	for (i = 0; i < KG_COUNT(chunks); i++)
		if (same_both_ways(&x, chunks[i], sheet) != fell_back)
			fail_msg("the scanner left %s parts to expat, not %u: "
				 "%s", fell_back ? "other" : "some", fell_back,
				 sheet);
	kg_buf_free(&x);
}

/* What a worksheet holds, through the scanner: the same as expat. */
static void
test_scan_sheets(void **state)
{
	(void)state;
	expect_scan(SHEET("<row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>"
			  "&lt;&gt;&amp;&apos;&quot; &#380;&#x17C;\xc5\xbc "
			  "&#x1F600;&#9;a&#10;b&#13;c\r\nd\re</t></is></c>"
			  "<c r='B1' t='s'><v>0</v></c>"
			  "<c  r = \"C1\"\n s=\"1\" ><v>46082</v></c>"
			  "<c r=\"D1\" t=\"str\"><f>A1&amp;\"&gt;\"</f>"
			  "<v>x&gt;y</v></c><c r=\"E1\"/><c r=\"F1\"><v></v>"
			  "</c><c r=\"G1\" t=\"b\"><v>1</v></c></row>"
			  "<row r=\"2\" spans=\"1:3\" xmlns:x14ac=\"u\" "
			  "x14ac:dyDescent=\"0.25\">"
			  "<c r=\"A2\"><foo><v>7</v><bar a=\"&gt;\">z</bar>"
			  "</foo></c><c r=\"B2\" t=\"inlineStr\"><is><r><t>ri"
			  "</t></r><rPh><t>PH</t></rPh><r><t>ch</t></r></is></c>"
			  "</row>"),
		    SST("<si><t xml:space='preserve'> a&amp;b\r\n</t></si>"), 0);
	/* before and after sheetData: ignorable elements, nested */
	expect_scan("<?xml version=\"1.0\" encoding=\"UTF-8\" "
		    "standalone=\"yes\"?>\r\n<worksheet xmlns=\"" MAIN "\" "
		    "xmlns:r=\"" RELNS "\"><sheetPr><outlinePr summaryBelow="
		    "\"1\"/></sheetPr><dimension ref=\"A1:B2\"/><sheetViews>"
		    "<sheetView workbookViewId=\"0\"><selection activeCell="
		    "\"A1\" sqref=\"A1\"/></sheetView></sheetViews><cols>"
		    "<col min=\"1\" max=\"2\" width=\"9\"/></cols>"
		    "<sheetData><row><c><v>1</v></c></row></sheetData>"
		    "<mergeCells count=\"1\"><mergeCell ref=\"A1:B1\"/>"
		    "</mergeCells><!-- after sheetData: never read -->"
		    "<extLst><ext uri=\"x\"/></extLst></worksheet>",
		    NULL, 0);
	/* comments, which xlsx-rs writes before the root */
	expect_scan("<?xml version=\"1.0\"?><!-- x -->" SHEET("<row><c><v>1"
		    "<!-- y --></v></c></row><!-- z --><row><c><v>2</v></c>"
		    "</row>"), "<!-- w -->" SST("<si><t>a</t></si>"), 0);
	/* a prefix, bound and unbound */
	expect_scan("<x:worksheet xmlns:x=\"" MAIN "\"><x:sheetData><x:row>"
		    "<x:c t=\"inlineStr\"><x:is><x:t>p</x:t></x:is></x:c>"
		    "</x:row></x:sheetData></x:worksheet>", NULL, 0);
	expect_scan(SHEET("<row><y:c><v>1</v></y:c></row>"), NULL, 1);
}

/* Outside the subset, or wrong: expat reads the part again, and the
 * rows the scanner delivered before it gave up come once. */
static void
test_scan_falls_back(void **state)
{
	(void)state;
	expect_scan(SHEET("<row><c><v>1</v></c></row><row><c><v>2</v></c>"
			  "</row><?x y?><row><c><v>3</v></c></row>"),
		    NULL, 1);
	expect_scan(SHEET("<row><c><v>1</v></c></row><row><c><v><![CDATA[2]]>"
			  "</v></c></row><row><c><v>3</v></c></row>"), NULL, 1);
	expect_scan("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"
		    SHEET("<row><c t=\"inlineStr\"><is><t>\xbf</t></is></c>"
			  "</row>"), NULL, 1);
	expect_scan(SHEET("<row><c><v>1</v></c></row><?pi x?>"), NULL, 1);
	expect_scan("<!DOCTYPE worksheet>" SHEET("<row><c><v>1</v></c></row>"),
		    NULL, 1);
	/* errors: the same rows first, then expat's error */
	expect_scan(SHEET("<row><c><v>1</v></c></row><row><c><v>2</v></row>"),
		    NULL, 1);
	expect_scan(SHEET("<row><c><v>1</v></c></row><row><c><v>&#0;</v></c>"
			  "</row>"), NULL, 1);
	expect_scan(SHEET("<row><c><v>1</v></c></row><row><c><v>\xed\xa0\x80"
			  "</v></c></row>"), NULL, 1);
	expect_scan(SHEET("<row><c><v>1</v></c></row><row><c r=\"1A\"><v>2"
			  "</v></c></row>"), NULL, 1);
	expect_scan(SHEET("<row r=\"2\"><c><v>1</v></c></row><row r=\"1\">"
			  "<c><v>1</v></c></row>"), NULL, 1);
	expect_scan(SHEET("<row><c t=\"s\"><v>5</v></c></row>"),
		    SST("<si><t>a</t></si>"), 1);
	expect_scan("<worksheet xmlns=\"" MAIN "\"><sheetData><row><c><v>1"
		    "</v></c></row>", NULL, 1);
	/* the shared strings too */
	expect_scan(SHEET("<row><c t=\"s\"><v>1</v></c></row>"),
		    SST("<si><t>a</t></si><si><t><![CDATA[b]]></t></si>"), 1);
	expect_scan(SHEET("<row><c t=\"s\"><v>0</v></c></row>"),
		    SST("<si><t>a</t></si><si><t>b</t></s>"), 1);
}

/* A part the scanner gives up on near its end is inflated twice; the
 * limit on inflated bytes still counts it once, as expat alone does. */
static void
test_scan_fallback_inflates_once(void **state)
{
	struct kg_xlsx_how how = {KG_XLSX_SCAN, 0, 0, 0};
	struct kg_sheet_limits lim;
	struct kg_buf sheet = {0}, x = {0}, d = {0};
	struct kg_err err = {0};
	unsigned i;

	(void)state;
	kg_buf_puts(&sheet, "<worksheet xmlns=\"" MAIN "\"><sheetData>");
	for (i = 1; i <= 500; i++)
		kg_buf_printf(&sheet, "<row r=\"%u\"><c><v>%u</v></c></row>", i,
			      i);
	kg_buf_puts(&sheet, "<?pi outside the subset?></sheetData></worksheet>");
	book(&x, kg_buf_str(&sheet), NULL, NULL, NULL);
	kg_sheet_limits_default(&lim);
	lim.max_uncompressed = sheet.len * 3 / 2;	/* once, not twice */
	assert_int_equal(kg_xlsx_read_how(x.data, x.len, &lim, &how,
					  dump_exact, &d, &err), 0);
	assert_int_equal(how.fell_back, 1);
	kg_buf_free(&sheet);
	kg_buf_free(&x);
	kg_buf_free(&d);
}

/* Thousands of rows, so that pieces of every size cut every kind of
 * token: the scanner reads it whole and the same as expat. */
static void
test_scan_long_sheet(void **state)
{
	static const size_t chunks[] = {0, 1, 5, 4093, 65536};
	struct kg_buf sheet = {0}, x = {0};
	unsigned i, rows;
	size_t c;

	(void)state;
	for (c = 0; c < KG_COUNT(chunks); c++) {
		rows = chunks[c] == 1 ? 200 : 900;	/* limit: 1000 */
		kg_buf_reset(&sheet);
		kg_buf_puts(&sheet, "<?xml version=\"1.0\"?>\r\n<worksheet "
			    "xmlns=\"" MAIN "\"><sheetData>\r\n");
		for (i = 1; i <= rows; i++)
			kg_buf_printf(&sheet,
				      "<row r=\"%u\"><c r=\"A%u\" t=\"inlineStr\">"
				      "<is><t>Zadanie &#380;&#243;&#322;te %u "
				      "&amp; \xc5\x81\xc4\x85ka\r\n%.*s</t></is>"
				      "</c><c r='B%u' s='1'><v>%u</v></c>"
				      "<c r=\"C%u\"\t><v>%u.%02u</v></c></row>"
				      "\r\n", i, i, i, (int)(i % 37),
				      "abcdefghijklmnopqrstuvwxyz0123456789",
				      i, 40000 + i, i, i * 7, i % 100);
		kg_buf_puts(&sheet, "</sheetData></worksheet>");
		book(&x, kg_buf_str(&sheet), NULL, STYLES, NULL);
		assert_int_equal(same_both_ways(&x, chunks[c], "long sheet"),
				 0);
	}
	kg_buf_free(&sheet);
	kg_buf_free(&x);
}

/* Every .xlsx in `dir` (and one level below): the same both ways.
 * Returns the number of files. */
static unsigned
same_in_dir(const char *dir, unsigned depth)
{
	struct kg_buf x = {0};
	struct dirent *de;
	char path[600];
	unsigned seen = 0, fb;
	DIR *dh;
	size_t n;

	if (!(dh = opendir(dir)))
		return 0;
	while ((de = readdir(dh))) {
		n = strlen(de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (de->d_name[0] != '.' && depth && de->d_type == DT_DIR)
			seen += same_in_dir(path, depth - 1);
		if (n < 5 || strcmp(de->d_name + n - 5, ".xlsx"))
			continue;
		kg_buf_reset(&x);
		assert_int_equal(kg_buf_read_file(&x, path, 10u << 20), 0);
		fb = same_both_ways(&x, 0, path);
		assert_int_equal(same_both_ways(&x, 7, path), fb);
		print_message("%s: the same both ways%s\n", path,
			      fb ? " (left to expat: outside the subset, or an error)"
					  : "");
		seen++;
	}
	closedir(dh);
	kg_buf_free(&x);
	return seen;
}

/* The real-world corpus and the fuzz seeds: every file the same both
 * ways (the writers' fixtures are in test_fixtures). */
static void
test_scan_corpora(void **state)
{
	const char *rw = getenv("KG_REALWORLD");

	(void)state;
	if (!same_in_dir(rw ? rw : "tests/fixtures/realworld", 1) +
	    !same_in_dir("tests/fuzz/corpus/fuzz_xlsx", 0))
		skip();
}

/* ---- real-world files from tests/fixtures/make_fixtures.sh ---------- */

/* What every writer's fixtures.xlsx must read as (see the generators). */
static const char fixture_rows[] =
	"1:TNazwa projektu|TOpis|TWnioskodawca|TBud\xc5\xbc" "et (PLN)|"
	"TData rozpocz\xc4\x99" "cia|TUwagi\n"
	"2:TZielona \xc5\x81\xc3\xb3" "d\xc5\xba|TSadzenie drzew, "
	"\xc5\xbc\xc3\xb3\xc5\x82te kwiaty|TFundacja \"Jutro\"|N1234.5|"
	"D2024-03-15|TTAK\n"
	"3:TCzyste Powi\xc5\x9ble|TSprz\xc4\x85tanie brzeg\xc3\xb3w|"
	"TStowarzyszenie Wis\xc5\x82" "a|N100000|D2024-12-31\n"
	"5:TZa\xc5\xbc\xc3\xb3\xc5\x82\xc4\x87 g\xc4\x99\xc5\x9bl\xc4\x85 "
	"ja\xc5\xba\xc5\x84|"
	"TOpis w dw\xc3\xb3" "ch liniach|TGmina|N0.1||BTRUE\n";

static void
test_fixtures(void **state)
{
	const char *dir = getenv("KG_FIXTURES");
	struct kg_buf x = {0}, d = {0};
	struct kg_err err;
	struct dirent *de;
	char path[600];
	unsigned seen = 0;
	DIR *dh;
	size_t n;

	(void)state;
	if (!dir)
		dir = "build/fixtures";
	if (!(dh = opendir(dir))) {
		print_message("no %s: run tests/fixtures/make_fixtures.sh\n",
			      dir);
		skip();
	}
	while ((de = readdir(dh))) {
		n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 5, ".xlsx"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		kg_buf_reset(&x);
		assert_int_equal(kg_buf_read_file(&x, path, 10u << 20), 0);
		if (rd(&x, NULL, &d, &err) != 0)
			fail_msg("%s: %s", path, err.message);
		if (strcmp(kg_buf_str(&d), fixture_rows))
			fail_msg("%s reads as:\n%s", path, kg_buf_str(&d));
		assert_int_equal(same_both_ways(&x, 0, path), 0);
		print_message("%s: identical rows\n", de->d_name);
		seen++;
	}
	closedir(dh);
	kg_buf_free(&x);
	kg_buf_free(&d);
	if (!seen)
		skip();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cell_types),
		cmocka_unit_test(test_no_r_attributes),
		cmocka_unit_test(test_absolute_target_prefixed_ns),
		cmocka_unit_test(test_namespace_scopes),
		cmocka_unit_test(test_number_forms),
		cmocka_unit_test(test_number_forms_random),
		cmocka_unit_test(test_wrong_namespace_ignored),
		cmocka_unit_test(test_strict_namespaces),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_date1904),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_inline_string_with_v),
		cmocka_unit_test(test_lenient_packages),
		cmocka_unit_test(test_hidden_first_sheet),
		cmocka_unit_test(test_merged_header),
		cmocka_unit_test(test_blank_rows_and_limit),
		cmocka_unit_test(test_callback_stops),
		cmocka_unit_test(test_doctype_refused),
		cmocka_unit_test(test_billion_laughs_refused),
		cmocka_unit_test(test_zip_bomb),
		cmocka_unit_test(test_traversal_ignored),
		cmocka_unit_test(test_not_xlsx),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_bad_references),
		cmocka_unit_test(test_scan_sheets),
		cmocka_unit_test(test_scan_falls_back),
		cmocka_unit_test(test_scan_fallback_inflates_once),
		cmocka_unit_test(test_scan_long_sheet),
		cmocka_unit_test(test_scan_corpora),
		cmocka_unit_test(test_fixtures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
