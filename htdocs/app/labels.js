// Polish labels for the API's codes (DESIGN.md "Statuses", quality flags).

export const PROJECT_STATUS = {
  PENDING: 'Oczekuje',
  QUEUED: 'W kolejce',
  GENERATING: 'Generowanie…',
  COMPLETED: 'Gotowe',
  FAILED: 'Błąd',
};
export const STATUS_ORDER = ['PENDING', 'QUEUED', 'GENERATING', 'COMPLETED', 'FAILED'];

export const BATCH_STATUS = {
  VALIDATED: 'Gotowy do generowania',
  GENERATING: 'Generowanie…',
  COMPLETED: 'Zakończony',
  PARTIAL: 'Zakończony z błędami',
};

export function projectStatus(s) { return PROJECT_STATUS[s] || s || '—'; }
export function batchStatus(s) { return BATCH_STATUS[s] || s || '—'; }

export const CRITERIA = [
  ['completeness', 'Kompletność', 'wszystkie sekcje są wypełnione'],
  ['length', 'Długość', 'każda sekcja mieści się w zalecanej liczbie słów'],
  ['coverage', 'Pokrycie faktów', 'kluczowe dane z arkusza (nazwa, wnioskodawca, budżet, daty, grupa docelowa) są tam, gdzie powinny'],
  ['consistency', 'Spójność liczb', 'w tekście nie ma kwot, dat ani liczb, których nie ma w danych'],
  ['language', 'Język', 'tekst po polsku, bez zaślepek, Markdownu i angielskich wstawek'],
  ['review', 'Przegląd', 'odsetek sekcji przejrzanych lub poprawionych przez człowieka'],
];

export const FACTS = {
  name: 'nazwa projektu',
  organization: 'wnioskodawca',
  budget: 'budżet',
  start_date: 'data rozpoczęcia',
  end_date: 'data zakończenia',
  target_group: 'grupa docelowa',
};

// The section each fact is expected in (kg_quality.h "coverage").
export const FACT_SECTION = {
  name: 'summary', organization: 'summary', budget: 'budget',
  start_date: 'schedule', end_date: 'schedule', target_group: 'target_group',
};

export const INPUT_FIELDS = [
  ['name', 'Nazwa projektu'],
  ['organization', 'Wnioskodawca'],
  ['description', 'Opis'],
  ['goal', 'Cel'],
  ['target_group', 'Grupa docelowa'],
  ['budget', 'Budżet (PLN)'],
  ['start_date', 'Data rozpoczęcia'],
  ['end_date', 'Data zakończenia'],
  ['location', 'Lokalizacja'],
  ['keywords', 'Słowa kluczowe'],
  ['notes', 'Uwagi'],
];

// Flag code -> [short label, what to do]. ctx: {section, unsupported, missing}
export function flagText(code, ctx = {}) {
  const s = ctx.section || {};
  switch (code) {
    case 'empty':
      return ['Pusta sekcja', 'Napisz treść tej sekcji albo wygeneruj ją ponownie.'];
    case 'too_short':
      return ['Za krótka', `Rozwiń tekst${s.min_words ? ` — zalecane co najmniej ${s.min_words} słów` : ''}.`];
    case 'too_long':
      return ['Za długa', `Skróć tekst${s.max_words ? ` — zalecane najwyżej ${s.max_words} słów` : ''}.`];
    case 'missing_fact': {
      const facts = (ctx.missing || []).map((f) => FACTS[f] || f);
      return ['Brak faktu z arkusza',
        facts.length ? `Dopisz: ${facts.join(', ')} (tak jak w danych projektu).`
          : 'Dopisz kluczowe dane z arkusza (np. kwotę budżetu, daty, grupę docelową).'];
    }
    case 'unsupported_number': {
      const vals = ctx.unsupported || [];
      return ['Liczba spoza danych',
        (vals.length ? `Tych wartości nie ma w danych projektu: ${vals.join(', ')}. ` : 'W tekście jest kwota, data lub liczba, której nie ma w danych projektu. ') +
        'Sprawdź je i popraw albo usuń.'];
    }
    case 'english':
      return ['Tekst po angielsku', 'Przetłumacz angielskie zdania na polski.'];
    case 'placeholder':
      return ['Zaślepka', 'Zastąp tekst zastępczy (np. [nazwa], TODO, „do uzupełnienia”) konkretną treścią.'];
    case 'markdown':
      return ['Znaczniki Markdown', 'Usuń formatowanie typu **, # czy [](…) — karta to zwykły tekst.'];
    default:
      return [code, ''];
  }
}
