/*
 * kg_docx - writes a project card as a .docx (Office Open XML) package.
 *
 * The card is what a user hands on to others, so the file has to open
 * cleanly in Word and LibreOffice and behave like a hand-made document:
 * real Title / Heading 1 / Normal styles (navigation pane and table of
 * contents work), Polish spell-check (w:lang pl-PL in the defaults), a
 * header with the project name, a footer "Strona X z Y", metadata
 * (docProps) with title, author and creation time.
 *
 * Layout of word/document.xml: a Title paragraph with the project name,
 * a two-column table of facts (labels bold; omitted when there are no
 * facts), then for every section a Heading 1 with its title and its body
 * as paragraphs.  A body is split into paragraphs at blank lines; a
 * single newline becomes <w:br/>, a tab <w:tab/>.
 *
 * Every string of the card is untrusted (user input, LLM output): it is
 * cleaned by kg_docx_sanitize(), run through kg_typo_polish() (document
 * text only; metadata stays as typed) and XML-escaped.  NULL strings
 * count as empty.
 *
 * The package is built in memory (a libzip buffer source, no temporary
 * file, so the worker needs no writable disk and nothing is left behind
 * on failure).  Entries are DEFLATE-compressed, written to a seekable
 * source so libzip needs no data descriptors, far below Zip64 limits, with
 * [Content_Types].xml first and every entry time set to card->created
 * (UTC), so the same card always yields the same bytes on any host
 * (exports can be compared by hash).
 */
#ifndef KG_DOCX_H
#define KG_DOCX_H

#include <stddef.h>
#include <time.h>

#include "kg_buf.h"
#include "kg_err.h"

struct kg_docx_fact {
	const char *label;	/* e.g. "Wnioskodawca" */
	const char *value;	/* already formatted: kg_typo_money(), ... */
};

struct kg_docx_section {
	const char *title;	/* e.g. "Podsumowanie projektu" */
	const char *body;	/* plain text; blank lines separate paragraphs */
};

struct kg_docx_card {
	const char *title;	/* project name: Title, header, dc:title */
	const char *author;	/* organization or user: dc:creator */
	time_t created;		/* dcterms:created, zip entry times; set it */
	const struct kg_docx_fact *facts;
	size_t nfacts;
	const struct kg_docx_section *sections;
	size_t nsections;
	const char *footer_note;	/* e.g. "Wygenerowano offline"; NULL = none */
};

/*
 * Build the .docx and APPEND its bytes to `out`.  Returns 0, or -1 with
 * `err` filled (500 "docx_failed": out of memory or a libzip failure);
 * on failure `out` is left as it was.
 */
int kg_docx_build(const struct kg_docx_card *card, struct kg_buf *out,
		  struct kg_err *err);

/*
 * Append `len` bytes of `in` to `out` as text that XML 1.0 accepts:
 * invalid UTF-8 (bad or overlong sequences, lone surrogates, > U+10FFFF)
 * is dropped byte by byte, as are C0 controls other than tab and newline,
 * C1 controls (U+0080-U+009F) and U+FFFE/U+FFFF; CRLF and lone CR become
 * "\n".  Not escaped: escaping is the XML writer's business.
 */
int kg_docx_sanitize(const char *in, size_t len, struct kg_buf *out);

#endif
