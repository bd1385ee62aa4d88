-- 003_generation.sql — data of the generation worker (issue 5): the prompts of
-- the three pipeline stages and the sentence templates of the offline drafter.
--
-- Both are data, not code: changing a prompt or a sentence is a new migration
-- with an UPDATE/INSERT, no rebuild. The worker loads them at start and on
-- SIGHUP (and whenever it has none yet).

-- ---------------------------------------------------------------------------
-- prompt_templates: one row per pipeline stage
-- ---------------------------------------------------------------------------
-- Placeholders (filled by kg_prompt_render):
--   {input_json}     the project's normalised input row (JSON)
--   {sections_spec}  one line per section_defs row: key, title, min–max words,
--                    guidance
--   {section_keys}   the keys, comma separated
--   {plan}           the plan stage's validated output (JSON)
--   {draft}          the draft stage's validated output (JSON)
-- Every stage must answer with JSON only; the worker validates the shape
-- (kg_stage.h) and counts anything else as a failed attempt.
CREATE TABLE prompt_templates (
    stage       text PRIMARY KEY,
    position    smallint NOT NULL UNIQUE,
    system      text NOT NULL,
    body        text NOT NULL,
    max_tokens  integer NOT NULL DEFAULT 4096,
    CONSTRAINT prompt_templates_stage_check CHECK (
        stage IN ('plan', 'draft', 'polish', 'regenerate')),
    CONSTRAINT prompt_templates_max_tokens_check CHECK (max_tokens > 0)
);

INSERT INTO prompt_templates (stage, position, system, body, max_tokens) VALUES
('plan', 1,
 'Jesteś doświadczonym autorem wniosków projektowych w Polsce. Piszesz wyłącznie '
 'po polsku, rzeczowo, bez zmyślania faktów. Odpowiadasz wyłącznie poprawnym JSON.',
 'Dane projektu (JSON):
{input_json}

Przygotuj plan karty projektu. Zwróć obiekt JSON:
{"facts": {nazwa pola: fakt z danych, ...},
 "outline": {klucz sekcji: krótka lista tez tej sekcji, ...}}
Obiekt "outline" musi zawierać dokładnie te klucze: {section_keys}.
Sekcje karty:
{sections_spec}
Nie dodawaj faktów, liczb, kwot ani dat, których nie ma w danych.', 2048),

('draft', 2,
 'Jesteś doświadczonym autorem wniosków projektowych w Polsce. Piszesz wyłącznie '
 'po polsku, zwykłym tekstem (bez Markdown), bez zmyślania faktów. Odpowiadasz '
 'wyłącznie poprawnym JSON.',
 'Dane projektu (JSON):
{input_json}

Plan karty (JSON):
{plan}

Napisz wszystkie sekcje karty projektu zgodnie z planem i wskazówkami:
{sections_spec}
Zwróć obiekt JSON {"sections": {klucz: tekst sekcji, ...}} z kluczami: {section_keys}.
Każda sekcja ma mieścić się w podanym zakresie liczby słów.', 6000),

('polish', 3,
 'Jesteś redaktorem języka polskiego. Poprawiasz styl, interpunkcję i spójność '
 'tekstu, nie zmieniając faktów, liczb, kwot ani dat. Odpowiadasz wyłącznie '
 'poprawnym JSON.',
 'Zredaguj poniższe sekcje karty projektu: popraw język i styl, usuń powtórzenia, '
 'zachowaj wszystkie fakty i zakres liczby słów każdej sekcji:
{sections_spec}

Tekst (JSON):
{draft}

Zwróć obiekt JSON o tym samym kształcie: {"sections": {klucz: tekst, ...}} '
 'z kluczami: {section_keys}.', 6000);

-- ---------------------------------------------------------------------------
-- offline_templates: sentences of the offline drafter (kg_offline.h)
-- ---------------------------------------------------------------------------
-- section: a section_defs key, or '*' for sentences usable in any section
-- (taken after the section's own ones while the text is too short).
-- Placeholders: {name} {organization} {description} {goal} {target_group}
-- {location} {keywords} {notes} {budget} {start_date} {end_date} {title}.
-- A sentence whose placeholder has no value in the row is skipped. Sentences
-- carry no numbers of their own: the quality score flags any number the input
-- does not support.
CREATE TABLE offline_templates (
    id        integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    section   text NOT NULL,
    position  smallint NOT NULL,
    text      text NOT NULL,
    CONSTRAINT offline_templates_position_key UNIQUE (section, position),
    CONSTRAINT offline_templates_section_check CHECK (
        section = '*' OR section ~ '^[a-z][a-z_]{0,39}$'),
    CONSTRAINT offline_templates_text_check CHECK (btrim(text) <> '')
);

INSERT INTO offline_templates (section, position, text) VALUES
('summary', 1, 'Projekt „{name}” realizuje {organization}.'),
('summary', 2, 'Istota przedsięwzięcia została opisana przez wnioskodawcę następująco: {description}.'),
('summary', 3, 'Głównym celem projektu jest: {goal}.'),
('summary', 4, 'Projekt jest skierowany do następującej grupy odbiorców: {target_group}.'),
('summary', 5, 'Działania będą prowadzone w miejscu realizacji: {location}.'),
('summary', 6, 'Realizacja rozpocznie się {start_date} i zakończy {end_date}.'),
('summary', 7, 'Wnioskodawca odpowiada za przygotowanie, przebieg i rozliczenie projektu, a także za kontakt z uczestnikami i partnerami.'),
('summary', 8, 'Karta przedstawia cele, odbiorców, zakres działań, harmonogram, budżet, oczekiwane rezultaty oraz ryzyka wraz ze sposobami ich ograniczania.'),
('summary', 9, 'Projekt odpowiada na potrzeby zgłaszane przez odbiorców i wykorzystuje doświadczenie zespołu wnioskodawcy.'),

('objectives', 1, 'Celem głównym projektu „{name}” jest: {goal}.'),
('objectives', 2, 'Potrzeba realizacji wynika z opisu przedsięwzięcia: {description}.'),
('objectives', 3, 'Cele szczegółowe obejmują przygotowanie i przeprowadzenie zaplanowanych działań, zaangażowanie odbiorców oraz trwałe utrzymanie efektów po zakończeniu projektu.'),
('objectives', 4, 'Projekt ma także wzmocnić współpracę wnioskodawcy z lokalnymi partnerami i instytucjami, które wspierają odbiorców w codziennym życiu.'),
('objectives', 5, 'Uzasadnieniem jest problem wskazany przez wnioskodawcę, który bez wsparcia nie zostanie rozwiązany w zadowalającym stopniu.'),
('objectives', 6, 'Realizacja właśnie teraz pozwoli wykorzystać zaangażowanie odbiorców i gotowość partnerów do wspólnego działania.'),
('objectives', 7, 'Osiągnięcie celów będzie monitorowane w trakcie całego projektu, a wnioski z monitoringu posłużą do bieżącej korekty działań.'),
('objectives', 8, 'Dodatkowym celem jest upowszechnienie dobrych praktyk wypracowanych w projekcie wśród innych organizacji działających w podobnym obszarze.'),

('target_group', 1, 'Projekt jest skierowany do następującej grupy odbiorców: {target_group}.'),
('target_group', 2, 'Odbiorcy mieszkają lub działają w miejscu realizacji projektu: {location}.'),
('target_group', 3, 'Potrzeby odbiorców wynikają z sytuacji opisanej przez wnioskodawcę, a projekt odpowiada na nie w sposób praktyczny i dostępny.'),
('target_group', 4, 'Rekrutacja uczestników będzie otwarta i przejrzysta, prowadzona z wykorzystaniem kanałów informacyjnych wnioskodawcy oraz jego partnerów.'),
('target_group', 5, 'Szczególna uwaga zostanie zwrócona na osoby, które mają utrudniony dostęp do podobnych form wsparcia.'),
('target_group', 6, 'Odbiorcy będą włączani w planowanie i ocenę działań, dzięki czemu projekt lepiej odpowie na ich oczekiwania.'),
('target_group', 7, 'Informacje o projekcie będą przekazywane prostym językiem, tak aby dotarły do wszystkich zainteresowanych osób.'),

('activities', 1, 'Działania projektu „{name}” wynikają bezpośrednio z jego opisu: {description}.'),
('activities', 2, 'Pierwszym etapem będzie przygotowanie projektu: ustalenie szczegółowego planu pracy, podział zadań w zespole oraz przygotowanie materiałów i miejsca realizacji.'),
('activities', 3, 'Następnie wnioskodawca przeprowadzi rekrutację uczestników i poinformuje odbiorców o celach, zasadach i terminach działań.'),
('activities', 4, 'Zasadniczym etapem będzie realizacja zaplanowanych zajęć i spotkań z odbiorcami, prowadzonych przez osoby z odpowiednim doświadczeniem.'),
('activities', 5, 'W trakcie realizacji zespół będzie na bieżąco zbierał opinie uczestników i dostosowywał sposób prowadzenia działań do ich potrzeb.'),
('activities', 6, 'Działania będą prowadzone w miejscu realizacji: {location}.'),
('activities', 7, 'Ostatnim etapem będzie podsumowanie projektu, ocena osiągniętych rezultatów, upowszechnienie efektów oraz rozliczenie projektu.'),
('activities', 8, 'Przez cały okres realizacji wnioskodawca będzie dokumentował przebieg działań i informował o nich lokalną społeczność.'),
('activities', 9, 'Za koordynację wszystkich działań odpowiada {organization}.'),

('schedule', 1, 'Projekt rozpocznie się {start_date} i zakończy {end_date}.'),
('schedule', 2, 'Na początku okresu realizacji, od {start_date}, zaplanowano przygotowanie projektu i rekrutację uczestników.'),
('schedule', 3, 'Zasadnicze działania będą prowadzone w środkowej części okresu realizacji, zgodnie z planem pracy uzgodnionym z partnerami.'),
('schedule', 4, 'Podsumowanie, ocena rezultatów i rozliczenie projektu nastąpią w ostatnim etapie, najpóźniej do {end_date}.'),
('schedule', 5, 'Kolejność etapów jest następująca: przygotowanie, rekrutacja, realizacja działań, podsumowanie i rozliczenie.'),
('schedule', 6, 'Harmonogram uwzględnia czas na przygotowanie materiałów oraz rezerwę na wypadek nieprzewidzianych opóźnień.'),
('schedule', 7, 'Postęp prac będzie regularnie sprawdzany przez koordynatora projektu, a ewentualne zmiany terminów będą uzgadniane z partnerami.'),

('budget', 1, 'Całkowity budżet projektu wynosi {budget}.'),
('budget', 2, 'Środki zostaną przeznaczone przede wszystkim na wynagrodzenia osób prowadzących działania, materiały, wynajem miejsca oraz promocję projektu.'),
('budget', 3, 'Każda kategoria wydatków wynika bezpośrednio z zaplanowanych działań i jest niezbędna do osiągnięcia rezultatów.'),
('budget', 4, 'Wydatki będą ponoszone zgodnie z zasadami gospodarności, a ich dokumentacja pozwoli na przejrzyste rozliczenie projektu.'),
('budget', 5, 'Za nadzór nad wydatkami odpowiada {organization}.'),
('budget', 6, 'Koszty administracyjne zostaną ograniczone do niezbędnego minimum, aby jak największa część środków trafiła bezpośrednio do odbiorców.'),

('outcomes', 1, 'Najważniejszym rezultatem projektu „{name}” będzie osiągnięcie jego celu: {goal}.'),
('outcomes', 2, 'Bezpośrednim rezultatem będzie przeprowadzenie wszystkich zaplanowanych działań z udziałem odbiorców: {target_group}.'),
('outcomes', 3, 'U uczestników spodziewana jest trwała zmiana w obszarze, którego dotyczy projekt, potwierdzona ich własną oceną.'),
('outcomes', 4, 'Wskaźnikami rezultatu będą liczba uczestników, którzy ukończyli działania, oraz odsetek uczestników deklarujących korzyść z udziału.'),
('outcomes', 5, 'Pomiar wskaźników nastąpi na podstawie list obecności, ankiet na początku i na końcu projektu oraz dokumentacji działań.'),
('outcomes', 6, 'Efekty projektu zostaną upowszechnione, tak aby mogły z nich skorzystać także inne organizacje i instytucje.'),
('outcomes', 7, 'Wnioskodawca planuje utrzymanie rezultatów po zakończeniu projektu dzięki współpracy z partnerami.'),

('risks', 1, 'Ryzykiem organizacyjnym jest niewystarczające zainteresowanie odbiorców; ograniczy je wczesna i szeroka rekrutacja prowadzona kilkoma kanałami.'),
('risks', 2, 'Ryzykiem związanym z terminami są opóźnienia w przygotowaniu działań; zapobiega im harmonogram z rezerwą czasu i regularny nadzór koordynatora.'),
('risks', 3, 'Ryzykiem finansowym jest wzrost cen towarów i usług; wnioskodawca ograniczy je przez wczesne zamówienia i porównanie ofert.'),
('risks', 4, 'Ryzykiem kadrowym jest nieobecność osób prowadzących działania; zespół przewiduje zastępstwa i dzielenie się wiedzą między członkami.'),
('risks', 5, 'Ryzykiem jest także rezygnacja uczestników w trakcie projektu; przeciwdziała jej dostosowanie terminów do ich potrzeb i stały kontakt z nimi.'),
('risks', 6, 'Wszystkie ryzyka będą monitorowane przez cały okres realizacji, a sposoby reagowania uzgodnione w zespole.'),

('*', 1, 'Projekt „{name}” realizuje {organization}.'),
('*', 2, 'Zespół wnioskodawcy ma doświadczenie w prowadzeniu podobnych działań i zna potrzeby odbiorców.'),
('*', 3, 'Wszystkie działania będą prowadzone z poszanowaniem zasad równości szans i dostępności.'),
('*', 4, 'Przebieg projektu będzie dokumentowany, a jego wyniki przedstawione w sprawozdaniu końcowym.'),
('*', 5, 'Wnioskodawca zadba o rzetelną informację o projekcie i jego efektach dla lokalnej społeczności.'),
('*', 6, 'Słowa kluczowe projektu to: {keywords}.');
