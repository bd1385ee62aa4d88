/* The workbook the XML fuzz targets wrap one part into (fuzz_xlsx_sheet,
 * fuzz_xlsx_scan): a fixed package with styles (a date, a custom date, a
 * time), four shared strings and a sheet referring to them, where the
 * input replaces either the worksheet or the shared strings.  Included by
 * exactly one .c per target (static functions). */
#ifndef FUZZ_BOOK_H
#define FUZZ_BOOK_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#define MAIN_NS "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
#define REL_NS "http://schemas.openxmlformats.org/officeDocument/2006/" \
	       "relationships"
#define PKG_NS "http://schemas.openxmlformats.org/package/2006/relationships"

static const char ct_xml[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
	"<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/"
	"content-types\"><Default Extension=\"xml\" "
	"ContentType=\"application/xml\"/></Types>";
static const char rels_xml[] =
	"<Relationships xmlns=\"" PKG_NS "\"><Relationship Id=\"rId1\" "
	"Type=\"" REL_NS "/officeDocument\" Target=\"xl/workbook.xml\"/>"
	"</Relationships>";
static const char wb_xml[] =
	"<workbook xmlns=\"" MAIN_NS "\" xmlns:r=\"" REL_NS "\">"
	"<sheets><sheet name=\"Projekty\" sheetId=\"1\" r:id=\"rId1\"/>"
	"</sheets></workbook>";
static const char wb_rels_xml[] =
	"<Relationships xmlns=\"" PKG_NS "\">"
	"<Relationship Id=\"rId1\" Type=\"" REL_NS "/worksheet\" "
	"Target=\"worksheets/sheet1.xml\"/>"
	"<Relationship Id=\"rId2\" Type=\"" REL_NS "/styles\" "
	"Target=\"styles.xml\"/>"
	"<Relationship Id=\"rId3\" Type=\"" REL_NS "/sharedStrings\" "
	"Target=\"sharedStrings.xml\"/></Relationships>";
/* style 1: built-in date 14; style 2: custom date; style 3: "mm:ss" */
static const char styles_xml[] =
	"<styleSheet xmlns=\"" MAIN_NS "\"><numFmts count=\"2\">"
	"<numFmt numFmtId=\"164\" formatCode=\"dd.mm.yyyy\"/>"
	"<numFmt numFmtId=\"165\" formatCode=\"mm:ss\"/></numFmts>"
	"<cellXfs count=\"4\"><xf numFmtId=\"0\"/><xf numFmtId=\"14\"/>"
	"<xf numFmtId=\"164\"/><xf numFmtId=\"165\"/></cellXfs>"
	"</styleSheet>";
static const char sst_xml[] =
	"<sst xmlns=\"" MAIN_NS "\" count=\"4\" uniqueCount=\"4\">"
	"<si><t>Nazwa projektu</t></si><si><t>Opis</t></si>"
	"<si><r><t>Wniosko</t></r><r><t>dawca</t></r></si>"
	"<si><t>Zielona \xc5\x81\xc3\xb3""d\xc5\xba</t></si></sst>";
static const char sheet_xml[] =
	"<worksheet xmlns=\"" MAIN_NS "\"><sheetData>"
	"<row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c>"
	"<c r=\"B1\" t=\"s\"><v>1</v></c><c r=\"C1\" t=\"s\"><v>2</v></c>"
	"</row><row r=\"2\"><c r=\"A2\" t=\"s\"><v>3</v></c>"
	"<c r=\"B2\" t=\"s\"><v>1</v></c><c r=\"C2\" t=\"s\"><v>2</v></c>"
	"<c r=\"D2\" s=\"1\"><v>46082</v></c></row></sheetData>"
	"</worksheet>";

static int
add(zip_t *za, const char *name, const void *data, size_t len, int deflate)
{
	zip_source_t *src = zip_source_buffer(za, data, len, 0);
	zip_int64_t idx;

	if (!src)
		return -1;
	if ((idx = zip_file_add(za, name, src, ZIP_FL_ENC_UTF_8)) < 0) {
		zip_source_free(src);
		return -1;
	}
	return zip_set_file_compression(za, (zip_uint64_t)idx,
					deflate ? ZIP_CM_DEFLATE
						: ZIP_CM_STORE, 1);
}

/* The workbook with `part` as sheet1.xml or sharedStrings.xml, in a
 * malloc'd buffer (*len bytes); NULL if libzip fails. */
static void *
build(const uint8_t *part, size_t plen, int is_sst, int deflate,
      size_t *len)
{
	zip_source_t *mem;
	zip_error_t ze;
	zip_stat_t st;
	zip_t *za;
	void *out = NULL;
	int ok;

	zip_error_init(&ze);
	if (!(mem = zip_source_buffer_create(NULL, 0, 0, &ze)))
		goto out;
	zip_source_keep(mem);
	if (!(za = zip_open_from_source(mem, ZIP_TRUNCATE, &ze))) {
		zip_source_free(mem);	/* the reference zip_open did not take */
		goto out;
	}
	ok = add(za, "[Content_Types].xml", ct_xml, strlen(ct_xml), 0) == 0 &&
	     add(za, "_rels/.rels", rels_xml, strlen(rels_xml), 0) == 0 &&
	     add(za, "xl/workbook.xml", wb_xml, strlen(wb_xml), 0) == 0 &&
	     add(za, "xl/_rels/workbook.xml.rels", wb_rels_xml,
		 strlen(wb_rels_xml), 0) == 0 &&
	     add(za, "xl/styles.xml", styles_xml, strlen(styles_xml), 0) == 0;
	ok = ok && (is_sst
		? add(za, "xl/sharedStrings.xml", part, plen, deflate) == 0 &&
		  add(za, "xl/worksheets/sheet1.xml", sheet_xml,
		      strlen(sheet_xml), 0) == 0
		: add(za, "xl/sharedStrings.xml", sst_xml, strlen(sst_xml),
		      0) == 0 &&
		  add(za, "xl/worksheets/sheet1.xml", part, plen,
		      deflate) == 0);
	if (!ok || zip_close(za) < 0) {
		zip_discard(za);
		goto out;
	}
	zip_stat_init(&st);
	if (zip_source_stat(mem, &st) < 0 || !(st.valid & ZIP_STAT_SIZE) ||
	    zip_source_open(mem) < 0)
		goto out;
	if ((out = malloc(st.size ? st.size : 1)) &&
	    zip_source_read(mem, out, st.size) != (zip_int64_t)st.size) {
		free(out);
		out = NULL;
	}
	zip_source_close(mem);
	*len = st.size;
out:
	if (mem)
		zip_source_free(mem);
	zip_error_fini(&ze);
	return out;
}

#endif
