#include "kg_template.h"
#include "kg_rows.h"
#include "kg_xlsxw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VALIDATED_ROWS 1000

static void
add_validation(lxw_worksheet *ws, lxw_col_t col,
	       const struct kg_rows_column *c)
{
	lxw_data_validation v;

	memset(&v, 0, sizeof(v));
	v.error_title = "Nieprawidłowa wartość";
	v.input_title = (char *)c->label;
	v.input_message = (char *)c->help;
	if (c->kind == KG_ROWS_DATE) {
		v.validate = LXW_VALIDATION_TYPE_DATE;
		v.criteria = LXW_VALIDATION_CRITERIA_BETWEEN;
		v.minimum_datetime = (lxw_datetime){2000, 1, 1, 0, 0, 0};
		v.maximum_datetime = (lxw_datetime){2100, 12, 31, 0, 0, 0};
		v.error_message = "Wpisz datę, np. 15.03.2026.";
	} else if (c->kind == KG_ROWS_AMOUNT) {
		v.validate = LXW_VALIDATION_TYPE_DECIMAL;
		v.criteria = LXW_VALIDATION_CRITERIA_GREATER_THAN;
		v.value_number = 0;
		v.error_message = "Budżet musi być liczbą większą od zera.";
	} else {
		v.validate = LXW_VALIDATION_TYPE_LENGTH;
		v.criteria = LXW_VALIDATION_CRITERIA_LESS_THAN_OR_EQUAL_TO;
		v.value_number = (double)c->max_chars;
		v.error_message = "Tekst jest za długi.";
	}
	worksheet_data_validation_range(ws, 1, col, VALIDATED_ROWS, col, &v);
}

static void
write_example(lxw_worksheet *ws, lxw_col_t col,
	      const struct kg_rows_column *c, lxw_format *date_fmt)
{
	int y, m, d;

	if (c->kind == KG_ROWS_DATE &&
	    sscanf(c->example, "%d-%d-%d", &y, &m, &d) == 3) {
		lxw_datetime dt = {y, m, d, 0, 0, 0};

		worksheet_write_datetime(ws, 1, col, &dt, date_fmt);
	} else if (c->kind == KG_ROWS_AMOUNT) {
		worksheet_write_number(ws, 1, col, atof(c->example), NULL);
	} else {
		worksheet_write_string(ws, 1, col, c->example, NULL);
	}
}

static void
projects_sheet(lxw_workbook *wb)
{
	lxw_worksheet *ws = workbook_add_worksheet(wb, "Projekty");
	lxw_format *head = workbook_add_format(wb);
	lxw_format *date_fmt = workbook_add_format(wb);
	lxw_format *money = workbook_add_format(wb);

	format_set_bold(head);
	format_set_bg_color(head, 0xDDEBF7);
	format_set_text_wrap(head);
	format_set_num_format(date_fmt, "dd.mm.yyyy");
	format_set_num_format(money, "#,##0.00");
	for (size_t i = 0; i < kg_rows_ncolumns; i++) {
		const struct kg_rows_column *c = &kg_rows_columns[i];
		lxw_col_t col = (lxw_col_t)i;
		double width = c->kind == KG_ROWS_TEXT
				       ? (c->max_chars > 1000 ? 50 : 28)
				       : 18;

		worksheet_set_column(ws, col, col, width,
				     c->kind == KG_ROWS_DATE	 ? date_fmt
				     : c->kind == KG_ROWS_AMOUNT ? money
								 : NULL);
		worksheet_write_string(ws, 0, col, c->label, head);
		write_example(ws, col, c, date_fmt);
		add_validation(ws, col, c);
	}
	worksheet_freeze_panes(ws, 1, 0);
}

static void
instructions_sheet(lxw_workbook *wb)
{
	lxw_worksheet *ws = workbook_add_worksheet(wb, "Instrukcja");
	lxw_format *bold = workbook_add_format(wb);
	lxw_format *wrap = workbook_add_format(wb);

	format_set_bold(bold);
	format_set_text_wrap(wrap);
	worksheet_set_column(ws, 0, 0, 24, NULL);
	worksheet_set_column(ws, 1, 1, 14, NULL);
	worksheet_set_column(ws, 2, 2, 90, wrap);
	worksheet_write_string(ws, 0, 0,
			       "Wypełnij arkusz „Projekty”: jeden wiersz to "
			       "jeden projekt. Przykładowy wiersz 2 usuń lub "
			       "zastąp.", bold);
	worksheet_write_string(ws, 2, 0, "Kolumna", bold);
	worksheet_write_string(ws, 2, 1, "Wymagana", bold);
	worksheet_write_string(ws, 2, 2, "Opis", bold);
	for (size_t i = 0; i < kg_rows_ncolumns; i++) {
		const struct kg_rows_column *c = &kg_rows_columns[i];
		lxw_row_t row = (lxw_row_t)(3 + i);

		worksheet_write_string(ws, row, 0, c->label, NULL);
		worksheet_write_string(ws, row, 1, c->required ? "tak" : "nie",
				       NULL);
		worksheet_write_string(ws, row, 2, c->help, NULL);
	}
}

static void
template_fill(lxw_workbook *wb, void *arg)
{
	(void)arg;
	projects_sheet(wb);
	instructions_sheet(wb);
}

int
kg_template_xlsx(struct kg_buf *out, struct kg_err *err)
{
	if (kg_xlsxw_build("Kartograf - szablon", template_fill, NULL, out) < 0)
		return kg_err_set(err, 500, "internal",
				  "cannot build the template");
	return 0;
}
