#include "kg_rows.h"
#include "kg_array.h"
#include "kg_jsonw.h"
#include "kg_utf8.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * The template's columns.  Aliases are in folded form (see
 * kg_rows_fold_header) and separated by '|'; the label is what the
 * template and error messages call the column.
 */
const struct kg_rows_column kg_rows_columns[] = {
	{"name", "Nazwa projektu", 1, KG_ROWS_TEXT, 500,
	 "nazwa projektu|nazwa|tytul projektu|tytul|project name|name|"
	 "project|title",
	 "Krótka, jednoznaczna nazwa projektu (wymagane, maks. 500 znaków, "
	 "bez powtórzeń w pliku).",
	 "Zielone podwórka Nowej Huty"},
	{"description", "Opis", 1, KG_ROWS_TEXT, 10000,
	 "opis|opis projektu|description|project description",
	 "Czego dotyczy projekt i co zostanie zrobione (wymagane). Im "
	 "więcej faktów, tym lepsza karta.",
	 "Rewitalizacja trzech podwórek z udziałem mieszkańców: projekt "
	 "zieleni, warsztaty, nasadzenia i mała architektura."},
	{"organization", "Wnioskodawca", 1, KG_ROWS_TEXT, 500,
	 "wnioskodawca|organizacja|beneficjent|applicant|organization|"
	 "organisation",
	 "Organizacja składająca wniosek (wymagane).",
	 "Stowarzyszenie Sąsiedzi z Nowej Huty"},
	{"goal", "Cel", 0, KG_ROWS_TEXT, 5000,
	 "cel|cel projektu|cel glowny|goal|objective|aim",
	 "Główny cel projektu (opcjonalne).",
	 "Poprawa jakości wspólnej przestrzeni i integracja sąsiedzka."},
	{"target_group", "Grupa docelowa", 0, KG_ROWS_TEXT, 2000,
	 "grupa docelowa|odbiorcy|target group|audience",
	 "Do kogo projekt jest skierowany (opcjonalne).",
	 "Mieszkańcy osiedli Nowej Huty, w tym seniorzy i rodziny z "
	 "dziećmi"},
	{"budget", "Budżet (PLN)", 0, KG_ROWS_AMOUNT, 0,
	 "budzet|budzet pln|budzet zl|kwota|wartosc projektu|budget|"
	 "budget pln",
	 "Całkowity budżet w złotych, liczba większa od zera, np. 125000 "
	 "lub 1 234,56 zł (opcjonalne).",
	 "185000"},
	{"start_date", "Data rozpoczęcia", 0, KG_ROWS_DATE, 0,
	 "data rozpoczecia|rozpoczecie|poczatek|start date|start",
	 "Data w formacie DD.MM.RRRR lub jako data Excela (opcjonalne).",
	 "2026-03-01"},
	{"end_date", "Data zakończenia", 0, KG_ROWS_DATE, 0,
	 "data zakonczenia|zakonczenie|koniec|end date|end",
	 "Data w formacie DD.MM.RRRR, nie wcześniejsza niż data "
	 "rozpoczęcia (opcjonalne).",
	 "2026-10-31"},
	{"location", "Lokalizacja", 0, KG_ROWS_TEXT, 500,
	 "lokalizacja|miejsce|miejsce realizacji|location|place",
	 "Miejsce realizacji (opcjonalne).", "Kraków, Nowa Huta"},
	{"keywords", "Słowa kluczowe", 0, KG_ROWS_TEXT, 1000,
	 "slowa kluczowe|keywords|tags|tagi",
	 "Słowa kluczowe oddzielone przecinkami (opcjonalne).",
	 "zieleń, partycypacja, rewitalizacja"},
	{"notes", "Uwagi", 0, KG_ROWS_TEXT, 5000,
	 "uwagi|komentarz|notes|comments",
	 "Dodatkowe informacje dla autora karty (opcjonalne).",
	 "Partner: Rada Dzielnicy XVIII"},
};

const size_t kg_rows_ncolumns = KG_COUNT(kg_rows_columns);

/* Fields a row's checks look at again, by their place in the table. */
enum { F_NAME = 0, F_START = 6, F_END = 7 };


/* Polish letters (UTF-8, two bytes each) and their ASCII base. */
static const struct {
	const char *utf8;
	char ascii;
} polish_letters[] = {
	{"ą", 'a'}, {"ć", 'c'}, {"ę", 'e'}, {"ł", 'l'}, {"ń", 'n'},
	{"ó", 'o'}, {"ś", 's'}, {"ź", 'z'}, {"ż", 'z'}, {"Ą", 'a'},
	{"Ć", 'c'}, {"Ę", 'e'}, {"Ł", 'l'}, {"Ń", 'n'}, {"Ó", 'o'},
	{"Ś", 's'}, {"Ź", 'z'}, {"Ż", 'z'},
};

static char
fold_char(const char **p)
{
	unsigned char c = (unsigned char)**p;

	if (c < 0x80) {		/* ASCII: no table, no locale */
		(*p)++;
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			return (char)c;
		return c >= 'A' && c <= 'Z' ? (char)(c + 'a' - 'A') : ' ';
	}

	/* all of them start with 0xC3-0xC5 */
	for (size_t i = 0; c >= 0xc3 && c <= 0xc5 &&
			   i < KG_COUNT(polish_letters); i++) {
		if ((*p)[0] == polish_letters[i].utf8[0] &&
		    (*p)[1] == polish_letters[i].utf8[1]) {
			*p += 2;
			return polish_letters[i].ascii;
		}
	}
	(*p)++;
	while ((**p & 0xC0) == 0x80)
		(*p)++;
	return ' ';
}

void
kg_rows_fold_header(const char *in, char *out, size_t size)
{
	size_t n = 0;

	while (*in && n + 1 < size) {
		char c = fold_char(&in);

		if (c == ' ' && (n == 0 || out[n - 1] == ' '))
			continue;
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

static int
alias_matches(const char *aliases, const char *folded)
{
	size_t n = strlen(folded);

	while (*aliases) {
		size_t len = strcspn(aliases, "|");

		if (len == n && !strncmp(aliases, folded, n))
			return 1;
		aliases += len + (aliases[len] == '|');
	}
	return 0;
}

static int
field_for_header(const char *text)
{
	char folded[256];

	kg_rows_fold_header(text, folded, sizeof(folded));
	for (size_t i = 0; i < KG_COUNT(kg_rows_columns); i++)
		if (alias_matches(kg_rows_columns[i].aliases, folded))
			return (int)i;
	return -1;
}

void
kg_rows_init(struct kg_rows *r)
{
	memset(r, 0, sizeof(*r));
	r->errors = cJSON_CreateArray();
}

void
kg_rows_free(struct kg_rows *r)
{
	cJSON_Delete(r->errors);
	kg_buf_free(&r->input);
	kg_dict_free(&r->names);
	memset(r, 0, sizeof(*r));
}

static void
add_error(struct kg_rows *r, unsigned row, int col, int field,
	  const char *code, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

static void
add_error(struct kg_rows *r, unsigned row, int col, int field,
	  const char *code, const char *fmt, ...)
{
	char msg[512], letters[8] = "";
	cJSON *e;
	va_list ap;

	if (r->nerrors >= KG_ROWS_MAX_ERRORS && strcmp(code, "too_many_errors")) {
		r->dropped++;
		return;
	}
	r->nerrors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (col >= 0)
		kg_sheet_col_name((unsigned)col, letters);
	e = cJSON_CreateObject();
	cJSON_AddNumberToObject(e, "row", row);
	cJSON_AddStringToObject(e, "column", letters);
	cJSON_AddStringToObject(e, "field", field >= 0 ? kg_rows_columns[field].key
						       : "");
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	cJSON_AddItemToArray(r->errors, e);
}

static int
names_a_column(const struct kg_cell *cells, unsigned ncols)
{
	for (unsigned c = 0; c < ncols && c < KG_ROWS_MAX_COLS; c++)
		if (cells[c].type == KG_CELL_TEXT &&
		    field_for_header(cells[c].text) >= 0)
			return 1;
	return 0;
}

static void
read_header(struct kg_rows *r, unsigned row, const struct kg_cell *cells,
	    unsigned ncols)
{
	int seen[KG_COUNT(kg_rows_columns)];

	for (size_t i = 0; i < KG_COUNT(kg_rows_columns); i++)
		seen[i] = -1;
	r->header_seen = 1;
	r->header_row = row;
	for (unsigned c = 0; c < KG_ROWS_MAX_COLS; c++) {
		int f = c < ncols && cells[c].type == KG_CELL_TEXT
				? field_for_header(cells[c].text)
				: -1;

		r->col_field[c] = f;
		if (f < 0)
			continue;
		if (seen[f] >= 0) {
			add_error(r, row, (int)c, f, "duplicate_column",
				  "Kolumna „%s” występuje więcej niż raz.",
				  kg_rows_columns[f].label);
			r->col_field[c] = -1;
		}
		seen[f] = (int)c;
	}
	for (size_t i = 0; i < KG_COUNT(kg_rows_columns); i++)
		if (kg_rows_columns[i].required && seen[i] < 0)
			add_error(r, row, -1, (int)i, "missing_column",
				  "Brak wymaganej kolumny „%s”.",
				  kg_rows_columns[i].label);
}

/* ---- values ---------------------------------------------------------- */

/* Drops currency words and every kind of space users type in amounts.
 * A byte that starts no noise word (digits, separators: nearly all) is
 * copied without looking at the list. */
static size_t
strip_amount(const char *in, char *out, size_t size)
{
	static const char *const noise[] = {
		"\xc2\xa0", "\xe2\x80\xaf", "\xe2\x80\x89", "zł", "ZŁ", "Zł",
		"zl", "ZL", "Zl", "PLN", "pln", " ", "'", "\t",
	};
	size_t n = 0;

	while (*in && n + 1 < size) {
		size_t skip = 0;

		if (!strchr("\xc2\xe2zZPp '\t", *in)) {
			out[n++] = *in++;
			continue;
		}
		for (size_t i = 0; !skip && i < KG_COUNT(noise); i++)
			if (!strncmp(in, noise[i], strlen(noise[i])))
				skip = strlen(noise[i]);
		if (skip) {
			in += skip;
			continue;
		}
		out[n++] = *in++;
	}
	out[n] = '\0';
	return n;
}

/*
 * Polish conventions first: the comma is the decimal separator, a dot or
 * a space groups thousands.  With both ',' and '.', the later one is the
 * decimal separator ("1,234.56" from an English sheet).  A lone '.' is
 * decimal unless exactly three digits follow it ("1.234" is 1234 in
 * Poland).
 */
int
kg_rows_parse_amount(const char *text, double *out)
{
	char s[128], canon[128];
	size_t n = strip_amount(text, s, sizeof(s)), m = 0;
	char *lastc = strrchr(s, ','), *lastd = strrchr(s, '.'), *end;
	char dec = 0;

	if (n == 0 || n > 40)
		return -1;
	if (lastc && lastd)
		dec = lastc > lastd ? ',' : '.';
	else if (lastc)
		dec = strchr(s, ',') == lastc ? ',' : 0;
	else if (lastd)
		dec = (strchr(s, '.') == lastd && strlen(lastd + 1) != 3) ? '.'
									  : 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == dec && s + i == (dec == ',' ? lastc : lastd))
			canon[m++] = '.';
		else if (s[i] == ',' || s[i] == '.')
			continue;
		else if (isdigit((unsigned char)s[i]) || (i == 0 && s[i] == '-'))
			canon[m++] = s[i];
		else
			return -1;
	}
	canon[m] = '\0';
	errno = 0;
	*out = strtod(canon, &end);
	return (m == 0 || errno || *end || !isfinite(*out)) ? -1 : 0;
}

static int
valid_ymd(int y, int m, int d)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return y >= 1900 && y <= 2100 && m >= 1 && m <= 12 && d >= 1 &&
	       d <= days[m - 1] + (m == 2 && leap);
}

/* Between min and max digits at *p, advancing it; -1 if fewer. */
static int
take_digits(const char **p, int min, int max)
{
	int v = 0, n = 0;

	while (n < max && **p >= '0' && **p <= '9') {
		v = v * 10 + (*(*p)++ - '0');
		n++;
	}
	return n >= min ? v : -1;
}

/* "YYYY-MM-DD", alone or followed by a time ("T..." or " ..."). */
static int
iso_ymd(const char *t, int *y, int *m, int *d)
{
	*y = take_digits(&t, 4, 4);
	if (*y < 0 || *t++ != '-' || (*m = take_digits(&t, 2, 2)) < 0 ||
	    *t++ != '-' || (*d = take_digits(&t, 2, 2)) < 0)
		return -1;
	return !*t || *t == 'T' || *t == ' ' ? 0 : -1;
}

/* "D.M.YYYY" (also with '/' or '-', the same one twice), optionally
 * followed by " r." / "r." (rok), as Polish dates are written. */
static int
dmy(const char *t, int *y, int *m, int *d)
{
	char sep;

	if ((*d = take_digits(&t, 1, 2)) < 0 || !strchr(".-/", *t) || !*t)
		return -1;
	sep = *t++;
	if ((*m = take_digits(&t, 1, 2)) < 0 || *t++ != sep ||
	    (*y = take_digits(&t, 4, 4)) < 0)
		return -1;
	return !*t || !strcmp(t, " r.") || !strcmp(t, "r.") ? 0 : -1;
}

/*
 * A date column's cell -> "YYYY-MM-DD".  A date-time keeps its day (the
 * project's dates are days; the time is dropped).  A time of day or a
 * duration (KG_CELL_TIME) has no day and is refused, as is a number that
 * is not a whole serial.
 */
int
kg_rows_parse_date(const struct kg_cell *cell, char out[11])
{
	int y = 0, m = 0, d = 0;
	const char *t = cell->text ? cell->text : "";

	/* A bare number in a date column: an Excel serial of a cell that
	 * was not date-formatted (1900 system, as such files are). */
	if (cell->type == KG_CELL_NUMBER) {
		if (cell->number != floor(cell->number) ||
		    kg_sheet_serial_date(cell->number, 0, out) < 0 ||
		    iso_ymd(out, &y, &m, &d) < 0)
			return -1;
	} else if (cell->type == KG_CELL_TIME) {
		return -1;
	} else if (iso_ymd(t, &y, &m, &d) < 0 && dmy(t, &y, &m, &d) < 0) {
		return -1;
	}
	if (!valid_ymd(y, m, d))
		return -1;
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = out[7] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = '\0';
	return 0;
}

/*
 * A row number or an amount (0 < v < 1e12, whole cents) as cJSON prints
 * it ("%1.15g": every such number has at most 14 significant digits, so
 * that is its shortest decimal, the one kg_sheet_number_text finds
 * without printf and sscanf -- twice a row, they were 7% of the upload).
 */
static void
json_number(struct kg_jsonw *w, double v)
{
	char text[32];

	kg_sheet_number_text(v, text);
	kg_jsonw_raw(w, text);
}

/* The row being checked: its input object as JSON text, and each
 * field's text as put into it (NULL: not put; "" for the amount), so the
 * row's later checks need not read the JSON back. */
struct row_in {
	struct kg_jsonw w;
	const char *val[KG_COUNT(kg_rows_columns)];
	char iso[2][11];	/* start_date, end_date */
};

static int
check_text(struct kg_rows *r, unsigned row, int col, int f,
	   const struct kg_cell *cell, struct row_in *in)
{
	const char *text = cell->text ? cell->text : "";
	size_t max = kg_rows_columns[f].max_chars;

	/* a text of at most `max` bytes has at most `max` characters */
	if (strlen(text) > max && kg_utf8_chars(text) > max) {
		add_error(r, row, col, f, "too_long",
			  "Tekst w kolumnie „%s” jest za długi (maks. %zu "
			  "znaków).", kg_rows_columns[f].label, max);
		return -1;
	}
	kg_jsonw_key(&in->w, kg_rows_columns[f].key);
	kg_jsonw_str(&in->w, text);
	in->val[f] = text;	/* the cell's: valid during this callback */
	return 0;
}

static int
check_amount(struct kg_rows *r, unsigned row, int col, int f,
	     const struct kg_cell *cell, struct row_in *in)
{
	double v = cell->number;

	if (cell->type != KG_CELL_NUMBER &&
	    kg_rows_parse_amount(cell->text ? cell->text : "", &v) < 0) {
		add_error(r, row, col, f, "invalid_amount",
			  "Nieprawidłowa kwota „%.60s”. Podaj liczbę, np. "
			  "125000 lub 1 234,56 zł.", cell->text ? cell->text
								: "");
		return -1;
	}
	if (!(v > 0) || v >= 1e12) {
		add_error(r, row, col, f, "amount_range",
			  "Kwota musi być większa od zera i mniejsza niż "
			  "bilion zł.");
		return -1;
	}
	kg_jsonw_key(&in->w, kg_rows_columns[f].key);
	json_number(&in->w, round(v * 100) / 100);
	in->val[f] = "";
	return 0;
}

static int
check_date(struct kg_rows *r, unsigned row, int col, int f,
	   const struct kg_cell *cell, struct row_in *in)
{
	char *iso = in->iso[f == F_END];

	if (cell->type == KG_CELL_TIME) {
		add_error(r, row, col, f, "invalid_date",
			  "Komórka zawiera godzinę lub czas trwania („%.40s”), "
			  "a nie datę. Wpisz datę, np. 15.03.2026.",
			  cell->text);
		return -1;
	}
	if (kg_rows_parse_date(cell, iso) < 0) {
		add_error(r, row, col, f, "invalid_date",
			  "Nieprawidłowa data „%.40s”. Użyj formatu "
			  "DD.MM.RRRR, np. 15.03.2026.",
			  cell->text ? cell->text : "");
		return -1;
	}
	kg_jsonw_key(&in->w, kg_rows_columns[f].key);
	kg_jsonw_str(&in->w, iso);
	in->val[f] = iso;
	return 0;
}

static int
check_cell(struct kg_rows *r, unsigned row, int col, int f,
	   const struct kg_cell *cell, struct row_in *in)
{
	if (cell->type == KG_CELL_ERROR) {
		add_error(r, row, col, f, "cell_error",
			  "Komórka zawiera błąd Excela (%s).",
			  cell->text ? cell->text : "#ERR");
		return -1;
	}
	switch (kg_rows_columns[f].kind) {
	case KG_ROWS_AMOUNT:
		return check_amount(r, row, col, f, cell, in);
	case KG_ROWS_DATE:
		return check_date(r, row, col, f, cell, in);
	default:
		return check_text(r, row, col, f, cell, in);
	}
}

/* ---- rows ------------------------------------------------------------ */

static int
cell_empty(const struct kg_cell *c)
{
	return c->type == KG_CELL_EMPTY ||
	       (c->type == KG_CELL_TEXT && (!c->text || !*c->text));
}

/* The sheet column holding a field ("key" of kg_rows_columns), or -1. */
static int
column_of(const struct kg_rows *r, const char *key)
{
	for (int c = 0; c < KG_ROWS_MAX_COLS; c++)
		if (r->col_field[c] >= 0 &&
		    !strcmp(kg_rows_columns[r->col_field[c]].key, key))
			return c;
	return -1;
}

static int
required_present(struct kg_rows *r, unsigned row, const struct row_in *in)
{
	int ok = 1, col;

	for (size_t i = 0; i < KG_COUNT(kg_rows_columns); i++) {
		if (!kg_rows_columns[i].required || in->val[i])
			continue;
		if ((col = column_of(r, kg_rows_columns[i].key)) >= 0)
			add_error(r, row, col, (int)i, "required",
				  "Pole „%s” jest wymagane.", kg_rows_columns[i].label);
		ok = 0;
	}
	return ok;
}

static int
dates_in_order(struct kg_rows *r, unsigned row, const struct row_in *in)
{
	const char *start = in->val[F_START], *end = in->val[F_END];

	if (!start || !end || strcmp(start, end) <= 0)
		return 1;
	add_error(r, row, column_of(r, "end_date"), -1, "date_order",
		  "Data zakończenia jest wcześniejsza niż data rozpoczęcia.");
	return 0;
}

static int
name_unique(struct kg_rows *r, unsigned row, const char *name)
{
	char folded[2048];
	int *first;
	int added;

	kg_rows_fold_header(name, folded, sizeof(folded));
	/* out of memory: unchecked, as before; the row is still valid */
	first = kg_dict_add(&r->names, folded, (int)row, &added);
	if (!first || added)
		return 1;
	add_error(r, row, column_of(r, "name"), 0, "duplicate_name",
		  "Nazwa projektu powtarza się (pierwszy raz w wierszu %d).",
		  *first);
	return 0;
}

/* Out of memory half-way through a row: said as an error (so nothing is
 * created from an incomplete reading), and the reading stops. */
static int
out_of_memory(struct kg_rows *r, unsigned row)
{
	add_error(r, row, -1, -1, "internal",
		  "Serwerowi zabrakło pamięci; spróbuj ponownie później.");
	return 1;
}

/* The data row's cells into in->w; returns whether all were valid, and
 * in *any whether the row had a cell in a known column. */
static int
check_row(struct kg_rows *r, unsigned row, const struct kg_cell *cells,
	  unsigned ncols, struct row_in *in, int *any)
{
	int ok = 1;

	kg_jsonw_open(&in->w, '{');
	for (unsigned c = 0; c < ncols && c < KG_ROWS_MAX_COLS; c++) {
		int f = r->col_field[c];

		if (f < 0 || cell_empty(&cells[c]))
			continue;
		*any = 1;
		if (check_cell(r, row, (int)c, f, &cells[c], in) < 0)
			ok = 0;
	}
	kg_jsonw_close(&in->w, '}');
	if (!*any)
		return 0;
	ok = required_present(r, row, in) && ok;
	ok = dates_in_order(r, row, in) && ok;
	if (in->val[F_NAME])
		ok = name_unique(r, row, in->val[F_NAME]) && ok;
	return ok;
}

static double
ms_between(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1->tv_nsec - t0->tv_nsec) / 1e6;
}

static int
feed(struct kg_rows *r, unsigned row, const struct kg_cell *cells,
     unsigned ncols)
{
	struct row_in in = {.w = {.buf = r->input}};
	struct timespec t0, t1;
	int ok, any = 0, rc;

	if (!r->header_seen) {
		if (!names_a_column(cells, ncols) &&
		    r->title_rows < KG_ROWS_MAX_TITLE_ROWS) {
			r->title_rows++;
			return 0;
		}
		read_header(r, row, cells, ncols);
		return 0;
	}
	kg_buf_reset(&in.w.buf);
	ok = check_row(r, row, cells, ncols, &in, &any);
	r->input = in.w.buf;	/* kept for the next row */
	if (in.w.oom || !r->errors)
		return out_of_memory(r, row);
	if (!ok)
		return 0;
	r->nvalid++;
	if (!r->sink || r->nerrors)
		return 0;	/* validate only, or the file is invalid */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = r->sink(r->sink_arg, row, in.val[F_NAME], in.w.buf.data,
		     in.w.buf.len);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->sink_ms += ms_between(&t0, &t1);
	if (rc < 0) {
		r->sink_failed = 1;
		return 1;
	}
	r->nsent++;
	return 0;
}

int
kg_rows_feed(void *arg, unsigned row, const struct kg_cell *cells,
	     unsigned ncols)
{
	struct kg_rows *r = arg;
	struct timespec t0, t1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = feed(r, row, cells, ncols);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->feed_ms += ms_between(&t0, &t1);
	return rc;
}

int
kg_rows_finish(struct kg_rows *r)
{
	if (!r->header_seen && r->title_rows)
		add_error(r, 1, -1, -1, "no_header",
			  "Nie znaleziono wiersza nagłówka: pierwszy wiersz "
			  "powinien zawierać kolumny „Nazwa projektu”, "
			  "„Opis” i „Wnioskodawca” (pobierz szablon).");
	else if (!r->header_seen)
		add_error(r, 1, -1, -1, "empty_file",
			  "Plik jest pusty: brak wiersza nagłówka.");
	else if (!r->nvalid && r->nerrors == 0)
		add_error(r, r->header_row + 1, -1, -1, "no_data",
			  "Plik nie zawiera żadnych projektów.");
	if (r->dropped) {
		add_error(r, 0, -1, -1, "too_many_errors",
			  "Pokazano pierwsze %d błędów; popraw je i wyślij "
			  "plik ponownie.", KG_ROWS_MAX_ERRORS);
	}
	return r->nerrors;
}
