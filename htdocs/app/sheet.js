// Client-side pre-check of an uploaded spreadsheet, mirroring the server's
// rules (lib/kg_rows.c) closely enough to show obvious problems before the
// upload. The server stays the authority: its 400 answer is shown in the
// same table.

export const COLUMNS = [
  { key: 'name', label: 'Nazwa projektu', required: true, kind: 'text', max: 500,
    aliases: ['nazwa projektu', 'nazwa', 'tytul projektu', 'tytul', 'project name', 'name', 'project', 'title'] },
  { key: 'description', label: 'Opis', required: true, kind: 'text', max: 10000,
    aliases: ['opis', 'opis projektu', 'description', 'project description'] },
  { key: 'organization', label: 'Wnioskodawca', required: true, kind: 'text', max: 500,
    aliases: ['wnioskodawca', 'organizacja', 'beneficjent', 'applicant', 'organization', 'organisation'] },
  { key: 'goal', label: 'Cel', kind: 'text', max: 5000,
    aliases: ['cel', 'cel projektu', 'cel glowny', 'goal', 'objective', 'aim'] },
  { key: 'target_group', label: 'Grupa docelowa', kind: 'text', max: 2000,
    aliases: ['grupa docelowa', 'odbiorcy', 'target group', 'audience'] },
  { key: 'budget', label: 'Budżet (PLN)', kind: 'amount',
    aliases: ['budzet', 'budzet pln', 'budzet zl', 'kwota', 'wartosc projektu', 'budget', 'budget pln'] },
  { key: 'start_date', label: 'Data rozpoczęcia', kind: 'date',
    aliases: ['data rozpoczecia', 'rozpoczecie', 'poczatek', 'start date', 'start'] },
  { key: 'end_date', label: 'Data zakończenia', kind: 'date',
    aliases: ['data zakonczenia', 'zakonczenie', 'koniec', 'end date', 'end'] },
  { key: 'location', label: 'Lokalizacja', kind: 'text', max: 500,
    aliases: ['lokalizacja', 'miejsce', 'miejsce realizacji', 'location', 'place'] },
  { key: 'keywords', label: 'Słowa kluczowe', kind: 'text', max: 1000,
    aliases: ['slowa kluczowe', 'keywords', 'tags', 'tagi'] },
  { key: 'notes', label: 'Uwagi', kind: 'text', max: 5000,
    aliases: ['uwagi', 'komentarz', 'notes', 'comments'] },
];

const POLISH = { ą: 'a', ć: 'c', ę: 'e', ł: 'l', ń: 'n', ó: 'o', ś: 's', ź: 'z', ż: 'z' };

// Same folding as kg_rows_fold_header: Polish letters to ASCII, any other
// non-alphanumeric to a space, lower case, spaces collapsed and trimmed.
export function foldHeader(text) {
  let out = '';
  for (const ch of String(text)) {
    const low = ch.toLowerCase();
    let c;
    if (POLISH[low]) c = POLISH[low];
    else if (/^[a-z0-9]$/.test(low) && ch.charCodeAt(0) < 128) c = low;
    else c = ' ';
    if (c === ' ' && (out === '' || out.endsWith(' '))) continue;
    out += c;
  }
  return out.trimEnd();
}

export function fieldForHeader(text) {
  const f = foldHeader(text);
  return COLUMNS.findIndex((c) => c.aliases.includes(f));
}

export function colName(c) { // 0 -> A
  let s = '';
  for (let n = c + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

// Polish conventions first (see kg_rows_parse_amount).
export function parseAmount(text) {
  let s = String(text).replace(/\u00a0|\u202f|\u2009|zł|ZŁ|Zł|zl|ZL|Zl|PLN|pln| |'|\t/g, '');
  if (!s || s.length > 40) return null;
  const lastc = s.lastIndexOf(','), lastd = s.lastIndexOf('.');
  let dec = '';
  if (lastc >= 0 && lastd >= 0) dec = lastc > lastd ? ',' : '.';
  else if (lastc >= 0) dec = s.indexOf(',') === lastc ? ',' : '';
  else if (lastd >= 0) dec = (s.indexOf('.') === lastd && s.length - lastd - 1 !== 3) ? '.' : '';
  const decPos = dec === ',' ? lastc : dec === '.' ? lastd : -1;
  let canon = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (i === decPos) canon += '.';
    else if (ch === ',' || ch === '.') continue;
    else if (/[0-9]/.test(ch) || (i === 0 && ch === '-')) canon += ch;
    else return null;
  }
  if (!canon || canon === '-' || canon === '.') return null;
  const v = Number(canon);
  return isFinite(v) ? v : null;
}

function validYmd(y, m, d) {
  const days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  return y >= 1900 && y <= 2100 && m >= 1 && m <= 12 && d >= 1 && d <= days[m - 1] + (m === 2 && leap ? 1 : 0);
}

const pad = (n, w = 2) => String(n).padStart(w, '0');

// -> 'YYYY-MM-DD' or null. cell: {t, v}
export function parseDate(cell) {
  let y, m, d;
  if (cell.t === 'd' && cell.v instanceof Date) {
    // SheetJS builds local-time dates, sometimes a few minutes before midnight
    const t = new Date(cell.v.getTime() + 3600 * 1000);
    y = t.getFullYear(); m = t.getMonth() + 1; d = t.getDate();
  } else if (cell.t === 'n') {
    if (cell.v !== Math.floor(cell.v)) return null;
    // Excel 1900 serial (with the 1900 leap-year bug: serials > 59 are one day late)
    const serial = cell.v > 59 ? cell.v - 1 : cell.v;
    const t = new Date(Date.UTC(1899, 11, 31) + serial * 86400000);
    y = t.getUTCFullYear(); m = t.getUTCMonth() + 1; d = t.getUTCDate();
  } else {
    const s = String(cell.v).trim();
    let r = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$/.exec(s);
    if (r && /^\d{4}-\d{2}-\d{2}/.test(s)) { y = +r[1]; m = +r[2]; d = +r[3]; }
    else if ((r = /^(\d{1,2})[./-](\d{1,2})[./-](\d{4})(?: ?r\.)?$/.exec(s))) { d = +r[1]; m = +r[2]; y = +r[3]; }
    else return null;
  }
  if (!validYmd(y, m, d)) return null;
  return `${y}-${pad(m)}-${pad(d)}`;
}

function cellEmpty(cell) {
  return !cell || cell.t === 'z' || cell.v === undefined || cell.v === null ||
    (typeof cell.v === 'string' && cell.v.trim() === '');
}

export function displayValue(cell) {
  if (cellEmpty(cell)) return '';
  if (cell.t === 'd' && cell.v instanceof Date) {
    const iso = parseDate(cell);
    return iso ? `${iso.slice(8, 10)}.${iso.slice(5, 7)}.${iso.slice(0, 4)}` : String(cell.w || cell.v);
  }
  if (cell.t === 'b') return cell.v ? 'PRAWDA' : 'FAŁSZ';
  if (cell.t === 'e') return cell.w || '#BŁĄD';
  if (cell.t === 'n' && cell.w) return cell.w;
  return String(cell.v);
}

function textLen(s) { return [...String(s)].length; }

/*
 * grid: {rows: [{r: excelRow(1-based), cells: {colIndex: {t, v, w}}}], ncols}
 * -> {headerRow, fields: {colIndex: fieldIndex}, problems: [{row, col, column, field, code, message}], dataRows}
 */
export function analyzeGrid(grid) {
  const problems = [];
  const add = (row, col, field, code, message) =>
    problems.push({ row, col, column: col >= 0 ? colName(col) : '', field: field >= 0 ? COLUMNS[field].key : '', code, message });
  const rows = grid.rows.filter((row) => Object.values(row.cells).some((c) => !cellEmpty(c)));
  if (!rows.length) {
    add(1, -1, -1, 'empty_file', 'Plik jest pusty: brak wiersza nagłówka.');
    return { headerRow: null, fields: {}, problems, dataRows: 0 };
  }
  const header = rows[0];
  const fields = {};
  const seen = {};
  for (const [c, cell] of Object.entries(header.cells)) {
    if (cellEmpty(cell) || typeof cell.v !== 'string') continue;
    const f = fieldForHeader(cell.v);
    if (f < 0) continue;
    if (seen[f] !== undefined) {
      add(header.r, +c, f, 'duplicate_column', `Kolumna „${COLUMNS[f].label}” występuje więcej niż raz.`);
      continue;
    }
    seen[f] = +c;
    fields[c] = f;
  }
  COLUMNS.forEach((col, f) => {
    if (col.required && seen[f] === undefined) add(header.r, -1, f, 'missing_column', `Brak wymaganej kolumny „${col.label}”.`);
  });
  const names = {};
  let dataRows = 0;
  for (const row of rows.slice(1)) {
    dataRows++;
    const input = {};
    for (const [c, f] of Object.entries(fields)) {
      const cell = row.cells[c];
      if (cellEmpty(cell)) continue;
      const col = COLUMNS[f];
      const ci = +c;
      if (cell.t === 'e') { add(row.r, ci, f, 'cell_error', `Komórka zawiera błąd Excela (${cell.w || '#ERR'}).`); input[col.key] = null; continue; }
      if (col.kind === 'amount') {
        const v = cell.t === 'n' ? cell.v : parseAmount(cell.v);
        if (v === null) add(row.r, ci, f, 'invalid_amount', `Nieprawidłowa kwota „${String(cell.w || cell.v).slice(0, 60)}”. Podaj liczbę, np. 125000 lub 1 234,56 zł.`);
        else if (!(v > 0) || v >= 1e12) add(row.r, ci, f, 'amount_range', 'Kwota musi być większa od zera i mniejsza niż bilion zł.');
        input[col.key] = v;
      } else if (col.kind === 'date') {
        const iso = parseDate(cell);
        if (!iso) { add(row.r, ci, f, 'invalid_date', `Nieprawidłowa data „${String(cell.w || cell.v).slice(0, 40)}”. Użyj formatu DD.MM.RRRR, np. 15.03.2026.`); input[col.key] = null; }
        else input[col.key] = iso;
      } else {
        const s = String(cell.v).trim();
        if (textLen(s) > col.max) add(row.r, ci, f, 'too_long', `Tekst w kolumnie „${col.label}” jest za długi (maks. ${col.max} znaków).`);
        input[col.key] = s;
      }
    }
    COLUMNS.forEach((col, f) => {
      if (col.required && !(col.key in input) && seen[f] !== undefined) {
        add(row.r, seen[f], f, 'required', `Pole „${col.label}” jest wymagane.`);
      }
    });
    if (input.start_date && input.end_date && input.start_date > input.end_date) {
      const fe = COLUMNS.findIndex((c) => c.key === 'end_date');
      add(row.r, seen[fe], -1, 'date_order', 'Data zakończenia jest wcześniejsza niż data rozpoczęcia.');
    }
    if (input.name) {
      const k = foldHeader(input.name);
      if (names[k]) add(row.r, seen[0], 0, 'duplicate_name', `Nazwa projektu powtarza się (pierwszy raz w wierszu ${names[k]}).`);
      else names[k] = row.r;
    }
  }
  if (dataRows === 0 && !problems.length) add(header.r + 1, -1, -1, 'no_data', 'Plik nie zawiera żadnych projektów.');
  return { headerRow: header.r, fields, problems, dataRows };
}

// A SheetJS worksheet -> grid (first rows only for very large sheets).
export function gridFromSheet(XLSX, ws, maxRows = 1200) {
  const rows = [];
  if (!ws || !ws['!ref']) return { rows, ncols: 0, firstCol: 0, truncated: false };
  const range = XLSX.utils.decode_range(ws['!ref']);
  const last = Math.min(range.e.r, range.s.r + maxRows);
  for (let r = range.s.r; r <= last; r++) {
    const cells = {};
    for (let c = range.s.c; c <= range.e.c; c++) {
      const cell = ws[XLSX.utils.encode_cell({ r, c })];
      if (cell) cells[c] = { t: cell.t, v: cell.v, w: cell.w };
    }
    rows.push({ r: r + 1, cells });
  }
  return { rows, ncols: range.e.c + 1, firstCol: range.s.c, truncated: last < range.e.r };
}
