-- 002_section_defs.sql — the eight default sections of a project card.
--
-- Kept as data (DESIGN.md: "keep them in data, not code"): the worker builds
-- its prompts and the offline drafter, the quality module its length limits,
-- and the editor/export their titles and order from this table. Changing a
-- title, guidance or word range later is a new migration with an UPDATE.
--
-- guidance is written as an instruction to the model (and to a human reader of
-- the prompt): what the section must contain, what it must not invent.
-- Word ranges are what the "length" quality criterion checks.

INSERT INTO section_defs (key, position, title, guidance, min_words, max_words) VALUES
('summary', 1, 'Podsumowanie projektu',
 'Przedstaw projekt w kilku zdaniach: co zostanie zrobione, przez kogo (wnioskodawca), '
 'dla kogo, gdzie i w jakim okresie. Podaj nazwę projektu i wnioskodawcy dokładnie '
 'tak, jak w danych wejściowych. Nie podawaj kwot ani dat, których nie ma w danych.',
 60, 180),

('objectives', 2, 'Cel i uzasadnienie',
 'Sformułuj cel główny projektu i 2–4 cele szczegółowe, a następnie uzasadnij potrzebę '
 'jego realizacji: jaki problem rozwiązuje i dlaczego właśnie teraz. Opieraj się na opisie '
 'i celu z danych wejściowych; nie wymyślaj statystyk ani źródeł.',
 80, 300),

('target_group', 3, 'Grupa docelowa',
 'Opisz, do kogo projekt jest skierowany: kim są odbiorcy, jakie mają potrzeby i w jaki '
 'sposób zostaną zrekrutowani lub włączeni w działania. Jeżeli dane wejściowe określają '
 'grupę docelową lub lokalizację, użyj ich dosłownie; liczbę uczestników podawaj tylko wtedy, '
 'gdy wynika z danych.',
 60, 250),

('activities', 4, 'Zakres działań',
 'Wymień i krótko opisz główne działania projektu w logicznej kolejności (np. przygotowanie, '
 'realizacja, podsumowanie), tak aby było jasne, co konkretnie zostanie wykonane i jakimi '
 'metodami. Działania muszą wynikać z opisu projektu.',
 100, 350),

('schedule', 5, 'Harmonogram',
 'Przedstaw harmonogram realizacji w podziale na etapy lub miesiące, mieszcząc się między '
 'datą rozpoczęcia a datą zakończenia podanymi w danych wejściowych. Daty zapisuj w formacie '
 'DD.MM.RRRR. Jeżeli dat nie podano, opisz kolejność etapów bez wymyślania konkretnych dat.',
 40, 200),

('budget', 6, 'Budżet',
 'Omów budżet projektu: podaj całkowitą kwotę z danych wejściowych (w złotych, np. '
 '„1 234 567,00 zł”) i opisowo wskaż główne kategorie wydatków oraz ich związek z działaniami. '
 'Nie podawaj żadnych innych kwot, procentów ani liczb, których nie ma w danych wejściowych.',
 40, 200),

('outcomes', 7, 'Rezultaty i wskaźniki',
 'Opisz oczekiwane rezultaty projektu (produkty i zmiany u odbiorców) oraz mierzalne wskaźniki '
 'ich osiągnięcia wraz ze sposobem pomiaru. Wartości liczbowe wskaźników podawaj tylko wtedy, '
 'gdy wynikają z danych wejściowych; w przeciwnym razie opisz wskaźnik bez wartości.',
 60, 250),

('risks', 8, 'Ryzyka i sposoby ich ograniczania',
 'Wskaż 3–5 najważniejszych ryzyk realizacji projektu (organizacyjnych, finansowych, '
 'związanych z udziałem odbiorców lub terminami) i dla każdego z nich opisz konkretny sposób '
 'zapobiegania lub ograniczenia jego skutków.',
 60, 250);
