#include "kg_docx.h"
#include "kg_array.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kg_typo.h"
#include "kg_utf8.h"
#include "kg_zipw.h"


#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
#define NS_W "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
#define NS_R "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
#define REL_BASE NS_R "/"

/* A4 with 2.5 cm margins, in twentieths of a point (twips). */
#define PAGE_W 11906
#define PAGE_H 16838
#define MARGIN 1417
#define TEXT_W (PAGE_W - 2 * MARGIN)
#define LABEL_W 3024

/* ---- text cleaning ---------------------------------------------------- */

/* XML 1.0 allows more than this; we keep only what belongs in a text. */
static int
keep_cp(uint32_t c)
{
	if (c == '\t' || c == '\n')
		return 1;
	if (c < 0x20 || (c >= 0x7f && c <= 0x9f))
		return 0;
	return c != 0xfffe && c != 0xffff;
}

int
kg_docx_sanitize(const char *in, size_t len, struct kg_buf *out)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t i = 0, from = 0, n;
	uint32_t cp = 0;

	while (i < len) {
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			i++;
			continue;
		}
		n = kg_utf8_decode(s + i, len - i, &cp);
		if (n && keep_cp(cp)) {
			i += n;
			continue;
		}
		if (kg_buf_append(out, s + from, i - from) < 0)
			return -1;
		if (s[i] == '\r') {
			if (kg_buf_puts(out, "\n") < 0)
				return -1;
			if (i + 1 < len && s[i + 1] == '\n')
				i++;
		}
		i += n ? n : 1;
		from = i;
	}
	return kg_buf_append(out, s + from, len - from);
}

/* Sanitized and, for document text, polished copy of `raw` (NULL = "").
 * Returns a malloc'ed string or NULL when memory runs out. */
static char *
clean_text(const char *raw, int polish)
{
	struct kg_buf clean = {0}, typo = {0};
	char *res = NULL;

	if (!raw)
		raw = "";
	if (kg_docx_sanitize(raw, strlen(raw), &clean) < 0)
		goto out;
	if (!polish) {
		res = kg_buf_take(&clean);
		goto out;
	}
	if (kg_typo_polish(kg_buf_str(&clean), &typo) < 0)
		goto out;
	res = kg_buf_take(&typo);
out:
	kg_buf_free(&clean);
	kg_buf_free(&typo);
	return res;
}

/* ---- XML writer --------------------------------------------------------
 *
 * A part is hundreds of small appends; instead of checking each one the
 * writer remembers the first failure (like ferror() on a FILE) and the
 * part builder checks once at the end. */

struct xw {
	struct kg_buf *b;
	int failed;
};

static void
xw_raw(struct xw *w, const char *s, size_t n)
{
	if (!w->failed && kg_buf_append(w->b, s, n) < 0)
		w->failed = 1;
}

static void
xw_puts(struct xw *w, const char *s)
{
	xw_raw(w, s, strlen(s));
}

static void xw_printf(struct xw *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
xw_printf(struct xw *w, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		w->failed = 1;
	else
		xw_raw(w, tmp, (size_t)n);
}

/* Escape all five XML specials, so the same text is safe in element
 * content and in attribute values alike. */
static void
xw_escape(struct xw *w, const char *s, size_t n)
{
	size_t i, from = 0;
	const char *rep;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: continue;
		}
		xw_raw(w, s + from, i - from);
		xw_puts(w, rep);
		from = i + 1;
	}
	xw_raw(w, s + from, n - from);
}

/* One run holding clean text: a newline inside w:t would be shown as a
 * space (or rejected), so newlines become <w:br/> and tabs <w:tab/>. */
static void
xw_run(struct xw *w, const char *s, size_t n, const char *rpr)
{
	size_t i = 0, j;

	if (n == 0)
		return;
	xw_puts(w, "<w:r>");
	xw_puts(w, rpr);
	while (i < n) {
		for (j = i; j < n && s[j] != '\n' && s[j] != '\t'; j++)
			;
		if (j > i) {
			xw_puts(w, "<w:t xml:space=\"preserve\">");
			xw_escape(w, s + i, j - i);
			xw_puts(w, "</w:t>");
		}
		if (j < n)
			xw_puts(w, s[j] == '\n' ? "<w:br/>" : "<w:tab/>");
		i = j + 1;
	}
	xw_puts(w, "</w:r>");
}

/* Clean (and polish) raw text and write it as one run. */
static void
xw_text(struct xw *w, const char *raw, int polish, const char *rpr)
{
	char *t = clean_text(raw, polish);

	if (!t) {
		w->failed = 1;
		return;
	}
	xw_run(w, t, strlen(t), rpr);
	free(t);
}

/* Metadata text: cleaned and escaped, not polished (NBSP and curly
 * quotes in a file's title only get in the way of searching for it). */
static void
xw_meta(struct xw *w, const char *raw)
{
	char *t = clean_text(raw, 0);

	if (!t) {
		w->failed = 1;
		return;
	}
	xw_escape(w, t, strlen(t));
	free(t);
}

static void
xw_para(struct xw *w, const char *style, const char *raw)
{
	xw_puts(w, "<w:p>");
	if (style)
		xw_printf(w, "<w:pPr><w:pStyle w:val=\"%s\"/></w:pPr>", style);
	xw_text(w, raw, 1, "");
	xw_puts(w, "</w:p>");
}

static int
blank_line(const char *s, const char *end)
{
	for (; s < end; s++)
		if (*s != ' ' && *s != '\t')
			return 0;
	return 1;
}

/* A section body: paragraphs separated by blank lines; single newlines
 * inside a paragraph stay line breaks. */
static void
xw_body(struct xw *w, const char *raw)
{
	char *t = clean_text(raw, 1);
	const char *p, *eol, *start = NULL, *end = NULL;

	if (!t) {
		w->failed = 1;
		return;
	}
	for (p = t; *p; p = *eol ? eol + 1 : eol) {
		eol = strchr(p, '\n');
		if (!eol)
			eol = p + strlen(p);
		if (!blank_line(p, eol)) {
			if (!start)
				start = p;
			end = eol;
			continue;
		}
		if (start) {
			xw_puts(w, "<w:p>");
			xw_run(w, start, (size_t)(end - start), "");
			xw_puts(w, "</w:p>");
		}
		start = NULL;
	}
	if (start) {
		xw_puts(w, "<w:p>");
		xw_run(w, start, (size_t)(end - start), "");
		xw_puts(w, "</w:p>");
	}
	free(t);
}

static int
xw_done(struct xw *w)
{
	return w->failed ? -1 : 0;
}

/* ---- parts ------------------------------------------------------------ */

static const char content_types_xml[] = XML_DECL
	"<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">"
	"<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>"
	"<Default Extension=\"xml\" ContentType=\"application/xml\"/>"
	"<Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>"
	"<Override PartName=\"/word/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml\"/>"
	"<Override PartName=\"/word/settings.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.settings+xml\"/>"
	"<Override PartName=\"/word/header1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml\"/>"
	"<Override PartName=\"/word/footer1.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml\"/>"
	"<Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>"
	"<Override PartName=\"/docProps/app.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.extended-properties+xml\"/>"
	"</Types>";

static const char package_rels_xml[] = XML_DECL
	"<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
	"<Relationship Id=\"rId1\" Type=\"" REL_BASE "officeDocument\" Target=\"word/document.xml\"/>"
	"<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/>"
	"<Relationship Id=\"rId3\" Type=\"" REL_BASE "extended-properties\" Target=\"docProps/app.xml\"/>"
	"</Relationships>";

/* The r:id values here are the ones document.xml's sectPr refers to. */
static const char document_rels_xml[] = XML_DECL
	"<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
	"<Relationship Id=\"rId1\" Type=\"" REL_BASE "styles\" Target=\"styles.xml\"/>"
	"<Relationship Id=\"rId2\" Type=\"" REL_BASE "settings\" Target=\"settings.xml\"/>"
	"<Relationship Id=\"rId3\" Type=\"" REL_BASE "header\" Target=\"header1.xml\"/>"
	"<Relationship Id=\"rId4\" Type=\"" REL_BASE "footer\" Target=\"footer1.xml\"/>"
	"</Relationships>";

/*
 * Word reports "unreadable content" when children of rPr/pPr are out of
 * schema order, so every rPr below is written in the order of
 * EG_RPrBase (rFonts, b, bCs, i, color, kern, sz, szCs, lang) and every
 * pPr in the order of CT_PPrBase (pStyle, keepNext, keepLines, pBdr,
 * tabs, spacing, contextualSpacing, jc, outlineLvl).  Heading 1 has the
 * built-in name "heading 1" before basedOn and outlineLvl 0: that is what
 * the navigation pane and TOC fields look for.  The spell-check language
 * comes from w:lang in rPrDefault; docProps language does not set it.
 */
static const char styles_xml[] = XML_DECL
	"<w:styles xmlns:w=\"" NS_W "\">"
	"<w:docDefaults><w:rPrDefault><w:rPr>"
	"<w:rFonts w:ascii=\"Calibri\" w:eastAsia=\"Calibri\" w:hAnsi=\"Calibri\" w:cs=\"Calibri\"/>"
	"<w:sz w:val=\"22\"/><w:szCs w:val=\"22\"/>"
	"<w:lang w:val=\"pl-PL\" w:eastAsia=\"en-US\" w:bidi=\"ar-SA\"/>"
	"</w:rPr></w:rPrDefault>"
	"<w:pPrDefault><w:pPr><w:spacing w:after=\"160\" w:line=\"276\" w:lineRule=\"auto\"/></w:pPr></w:pPrDefault>"
	"</w:docDefaults>"
	"<w:style w:type=\"paragraph\" w:default=\"1\" w:styleId=\"Normal\">"
	"<w:name w:val=\"Normal\"/><w:qFormat/>"
	"</w:style>"
	"<w:style w:type=\"character\" w:default=\"1\" w:styleId=\"DefaultParagraphFont\">"
	"<w:name w:val=\"Default Paragraph Font\"/><w:uiPriority w:val=\"1\"/><w:semiHidden/><w:unhideWhenUsed/>"
	"</w:style>"
	"<w:style w:type=\"paragraph\" w:styleId=\"Title\">"
	"<w:name w:val=\"Title\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/>"
	"<w:uiPriority w:val=\"10\"/><w:qFormat/>"
	"<w:pPr><w:pBdr><w:bottom w:val=\"single\" w:sz=\"8\" w:space=\"4\" w:color=\"1F3864\"/></w:pBdr>"
	"<w:spacing w:after=\"300\" w:line=\"240\" w:lineRule=\"auto\"/><w:contextualSpacing/></w:pPr>"
	"<w:rPr><w:color w:val=\"1F3864\"/><w:kern w:val=\"28\"/><w:sz w:val=\"48\"/><w:szCs w:val=\"48\"/></w:rPr>"
	"</w:style>"
	"<w:style w:type=\"paragraph\" w:styleId=\"Heading1\">"
	"<w:name w:val=\"heading 1\"/><w:basedOn w:val=\"Normal\"/><w:next w:val=\"Normal\"/>"
	"<w:uiPriority w:val=\"9\"/><w:qFormat/>"
	"<w:pPr><w:keepNext/><w:keepLines/><w:spacing w:before=\"360\" w:after=\"120\"/><w:outlineLvl w:val=\"0\"/></w:pPr>"
	"<w:rPr><w:b/><w:bCs/><w:color w:val=\"2F5496\"/><w:sz w:val=\"30\"/><w:szCs w:val=\"30\"/></w:rPr>"
	"</w:style>"
	"<w:style w:type=\"paragraph\" w:styleId=\"Header\">"
	"<w:name w:val=\"header\"/><w:basedOn w:val=\"Normal\"/><w:uiPriority w:val=\"99\"/><w:unhideWhenUsed/>"
	"<w:pPr><w:pBdr><w:bottom w:val=\"single\" w:sz=\"4\" w:space=\"1\" w:color=\"A6A6A6\"/></w:pBdr>"
	"<w:spacing w:after=\"0\" w:line=\"240\" w:lineRule=\"auto\"/></w:pPr>"
	"<w:rPr><w:color w:val=\"595959\"/><w:sz w:val=\"18\"/><w:szCs w:val=\"18\"/></w:rPr>"
	"</w:style>"
	"<w:style w:type=\"paragraph\" w:styleId=\"Footer\">"
	"<w:name w:val=\"footer\"/><w:basedOn w:val=\"Normal\"/><w:uiPriority w:val=\"99\"/><w:unhideWhenUsed/>"
	"<w:pPr><w:tabs><w:tab w:val=\"right\" w:pos=\"9072\"/></w:tabs>"
	"<w:spacing w:after=\"0\" w:line=\"240\" w:lineRule=\"auto\"/></w:pPr>"
	"<w:rPr><w:color w:val=\"595959\"/><w:sz w:val=\"18\"/><w:szCs w:val=\"18\"/></w:rPr>"
	"</w:style>"
	"<w:style w:type=\"table\" w:default=\"1\" w:styleId=\"TableNormal\">"
	"<w:name w:val=\"Normal Table\"/><w:uiPriority w:val=\"99\"/><w:semiHidden/><w:unhideWhenUsed/>"
	"<w:tblPr><w:tblInd w:w=\"0\" w:type=\"dxa\"/><w:tblCellMar>"
	"<w:top w:w=\"0\" w:type=\"dxa\"/><w:left w:w=\"108\" w:type=\"dxa\"/>"
	"<w:bottom w:w=\"0\" w:type=\"dxa\"/><w:right w:w=\"108\" w:type=\"dxa\"/>"
	"</w:tblCellMar></w:tblPr>"
	"</w:style>"
	"<w:style w:type=\"table\" w:styleId=\"TableGrid\">"
	"<w:name w:val=\"Table Grid\"/><w:basedOn w:val=\"TableNormal\"/><w:uiPriority w:val=\"59\"/>"
	"<w:pPr><w:spacing w:before=\"40\" w:after=\"40\" w:line=\"240\" w:lineRule=\"auto\"/></w:pPr>"
	"<w:tblPr><w:tblBorders>"
	"<w:top w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"BFBFBF\"/>"
	"<w:left w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"BFBFBF\"/>"
	"<w:bottom w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"BFBFBF\"/>"
	"<w:right w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"BFBFBF\"/>"
	"<w:insideH w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"BFBFBF\"/>"
	"<w:insideV w:val=\"single\" w:sz=\"4\" w:space=\"0\" w:color=\"BFBFBF\"/>"
	"</w:tblBorders><w:tblCellMar>"
	"<w:top w:w=\"40\" w:type=\"dxa\"/><w:left w:w=\"108\" w:type=\"dxa\"/>"
	"<w:bottom w:w=\"40\" w:type=\"dxa\"/><w:right w:w=\"108\" w:type=\"dxa\"/>"
	"</w:tblCellMar></w:tblPr>"
	"</w:style>"
	"</w:styles>";

static const char settings_xml[] = XML_DECL
	"<w:settings xmlns:w=\"" NS_W "\">"
	"<w:zoom w:percent=\"100\"/>"
	"<w:defaultTabStop w:val=\"708\"/>"
	"<w:hyphenationZone w:val=\"425\"/>"
	"<w:characterSpacingControl w:val=\"doNotCompress\"/>"
	"<w:compat><w:compatSetting w:name=\"compatibilityMode\" w:uri=\"http://schemas.microsoft.com/office/word\" w:val=\"15\"/></w:compat>"
	"<w:themeFontLang w:val=\"pl-PL\"/>"
	"</w:settings>";

static int
part_static(const char *xml, struct kg_buf *out)
{
	return kg_buf_puts(out, xml);
}

static int
part_content_types(const struct kg_docx_card *c, struct kg_buf *out)
{
	(void)c;
	return part_static(content_types_xml, out);
}

static int
part_package_rels(const struct kg_docx_card *c, struct kg_buf *out)
{
	(void)c;
	return part_static(package_rels_xml, out);
}

static int
part_document_rels(const struct kg_docx_card *c, struct kg_buf *out)
{
	(void)c;
	return part_static(document_rels_xml, out);
}

static int
part_styles(const struct kg_docx_card *c, struct kg_buf *out)
{
	(void)c;
	return part_static(styles_xml, out);
}

static int
part_settings(const struct kg_docx_card *c, struct kg_buf *out)
{
	(void)c;
	return part_static(settings_xml, out);
}

static void
xw_facts(struct xw *w, const struct kg_docx_card *c)
{
	size_t i;

	xw_printf(w, "<w:tbl><w:tblPr><w:tblStyle w:val=\"TableGrid\"/>"
		  "<w:tblW w:w=\"%d\" w:type=\"dxa\"/>"
		  "<w:tblLayout w:type=\"fixed\"/></w:tblPr>"
		  "<w:tblGrid><w:gridCol w:w=\"%d\"/><w:gridCol w:w=\"%d\"/>"
		  "</w:tblGrid>", TEXT_W, LABEL_W, TEXT_W - LABEL_W);
	for (i = 0; i < c->nfacts; i++) {
		xw_printf(w, "<w:tr><w:tc><w:tcPr><w:tcW w:w=\"%d\" "
			  "w:type=\"dxa\"/><w:shd w:val=\"clear\" "
			  "w:color=\"auto\" w:fill=\"EDF2F8\"/></w:tcPr><w:p>",
			  LABEL_W);
		xw_text(w, c->facts[i].label, 1, "<w:rPr><w:b/><w:bCs/></w:rPr>");
		xw_printf(w, "</w:p></w:tc><w:tc><w:tcPr><w:tcW w:w=\"%d\" "
			  "w:type=\"dxa\"/></w:tcPr><w:p>", TEXT_W - LABEL_W);
		xw_text(w, c->facts[i].value, 1, "");
		xw_puts(w, "</w:p></w:tc></w:tr>");
	}
	xw_puts(w, "</w:tbl>");
}

static int
part_document(const struct kg_docx_card *c, struct kg_buf *out)
{
	struct xw w = {out, 0};
	size_t i;

	xw_puts(&w, XML_DECL "<w:document xmlns:w=\"" NS_W "\" xmlns:r=\""
		NS_R "\"><w:body>");
	xw_para(&w, "Title", c->title);
	if (c->nfacts > 0)
		xw_facts(&w, c);
	for (i = 0; i < c->nsections; i++) {
		xw_para(&w, "Heading1", c->sections[i].title);
		xw_body(&w, c->sections[i].body);
	}
	/* Word wants a paragraph between a table and the section end. */
	if (c->nsections == 0)
		xw_puts(&w, "<w:p/>");
	xw_printf(&w, "<w:sectPr>"
		  "<w:headerReference w:type=\"default\" r:id=\"rId3\"/>"
		  "<w:footerReference w:type=\"default\" r:id=\"rId4\"/>"
		  "<w:pgSz w:w=\"%d\" w:h=\"%d\"/>"
		  "<w:pgMar w:top=\"%d\" w:right=\"%d\" w:bottom=\"%d\" "
		  "w:left=\"%d\" w:header=\"709\" w:footer=\"709\" "
		  "w:gutter=\"0\"/><w:cols w:space=\"708\"/></w:sectPr>"
		  "</w:body></w:document>", PAGE_W, PAGE_H, MARGIN, MARGIN,
		  MARGIN, MARGIN);
	return xw_done(&w);
}

static int
part_header(const struct kg_docx_card *c, struct kg_buf *out)
{
	struct xw w = {out, 0};

	xw_puts(&w, XML_DECL "<w:hdr xmlns:w=\"" NS_W "\" xmlns:r=\"" NS_R
		"\">");
	xw_para(&w, "Header", c->title);
	xw_puts(&w, "</w:hdr>");
	return xw_done(&w);
}

/* A complex field; the cached result "1" is what a reader that does not
 * compute fields shows, Word and LibreOffice recompute it. */
static void
xw_field(struct xw *w, const char *instr)
{
	xw_printf(w, "<w:r><w:fldChar w:fldCharType=\"begin\"/></w:r>"
		  "<w:r><w:instrText xml:space=\"preserve\"> %s </w:instrText>"
		  "</w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r>"
		  "<w:r><w:t>1</w:t></w:r>"
		  "<w:r><w:fldChar w:fldCharType=\"end\"/></w:r>", instr);
}

/* "[note] <tab> Strona X z Y": the Footer style's right tab stop puts
 * the page numbers at the right margin. */
static int
part_footer(const struct kg_docx_card *c, struct kg_buf *out)
{
	struct xw w = {out, 0};

	xw_puts(&w, XML_DECL "<w:ftr xmlns:w=\"" NS_W "\" xmlns:r=\"" NS_R
		"\"><w:p><w:pPr><w:pStyle w:val=\"Footer\"/></w:pPr>");
	if (c->footer_note)
		xw_text(&w, c->footer_note, 1, "");
	xw_puts(&w, "<w:r><w:tab/><w:t xml:space=\"preserve\">Strona </w:t>"
		"</w:r>");
	xw_field(&w, "PAGE");
	xw_puts(&w, "<w:r><w:t xml:space=\"preserve\"> z\xc2\xa0</w:t></w:r>");
	xw_field(&w, "NUMPAGES");
	xw_puts(&w, "</w:p></w:ftr>");
	return xw_done(&w);
}

static int
part_core(const struct kg_docx_card *c, struct kg_buf *out)
{
	struct xw w = {out, 0};
	char when[32];
	struct tm tm;

	if (!gmtime_r(&c->created, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -1;
	xw_puts(&w, XML_DECL "<cp:coreProperties "
		"xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
		"xmlns:dc=\"http://purl.org/dc/elements/1.1/\" "
		"xmlns:dcterms=\"http://purl.org/dc/terms/\" "
		"xmlns:dcmitype=\"http://purl.org/dc/dcmitype/\" "
		"xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
		"<dc:title>");
	xw_meta(&w, c->title);
	xw_puts(&w, "</dc:title><dc:creator>");
	xw_meta(&w, c->author);
	xw_puts(&w, "</dc:creator><cp:lastModifiedBy>Kartograf"
		"</cp:lastModifiedBy><dc:language>pl-PL</dc:language>");
	xw_printf(&w, "<dcterms:created xsi:type=\"dcterms:W3CDTF\">%s"
		  "</dcterms:created><dcterms:modified "
		  "xsi:type=\"dcterms:W3CDTF\">%s</dcterms:modified>"
		  "</cp:coreProperties>", when, when);
	return xw_done(&w);
}

static int
part_app(const struct kg_docx_card *c, struct kg_buf *out)
{
	struct xw w = {out, 0};

	xw_puts(&w, XML_DECL "<Properties "
		"xmlns=\"http://schemas.openxmlformats.org/officeDocument/2006/extended-properties\" "
		"xmlns:vt=\"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes\">"
		"<Application>Kartograf</Application><DocSecurity>0</DocSecurity>"
		"<Company>");
	xw_meta(&w, c->author);
	xw_puts(&w, "</Company></Properties>");
	return xw_done(&w);
}

/* Content types first: some readers sniff the first entry. */
static const struct {
	const char *name;
	int (*build)(const struct kg_docx_card *, struct kg_buf *);
} parts[] = {
	{"[Content_Types].xml", part_content_types},
	{"_rels/.rels", part_package_rels},
	{"word/document.xml", part_document},
	{"word/_rels/document.xml.rels", part_document_rels},
	{"word/styles.xml", part_styles},
	{"word/settings.xml", part_settings},
	{"word/header1.xml", part_header},
	{"word/footer1.xml", part_footer},
	{"docProps/core.xml", part_core},
	{"docProps/app.xml", part_app},
};

/* ---- zip -------------------------------------------------------------- */

/*
 * Parts are added in the order of the table ([Content_Types].xml first,
 * as some readers expect) to an in-memory archive (kg_zipw: UTC entry
 * times, so the same card gives the same bytes on every host).
 */
int
kg_docx_build(const struct kg_docx_card *card, struct kg_buf *out,
	      struct kg_err *err)
{
	struct kg_buf part = {0};
	struct kg_zipw z = {0};
	const char *what = "out of memory";
	size_t i;
	int rc = -1;

	if (!card)
		return kg_err_set(err, 500, "docx_failed", "no card given");
	if (kg_zipw_open(&z, err) < 0)
		return -1;
	for (i = 0; i < KG_COUNT(parts); i++) {
		if (parts[i].build(card, &part) < 0)
			goto out;
		if (kg_zipw_add(&z, parts[i].name, &part, 0, card->created) < 0) {
			what = kg_zipw_error(&z);
			goto out;
		}
	}
	if (kg_zipw_close(&z, out) < 0) {
		what = kg_zipw_error(&z);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		kg_err_set(err, 500, "docx_failed", "cannot build .docx: %s",
			   what);
	kg_zipw_discard(&z);
	kg_buf_free(&part);
	return rc;
}
