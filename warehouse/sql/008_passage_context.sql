-- Version 8: the evidence unit the stance model reads. `context` is the passage with its neighbours
-- in the page (the end of the previous sentence and the start of the next, extractors.sentences.windows),
-- so a fact split over two sentences ("The tower ... . It is 330 metres tall") is judged whole. NULL for
-- passages stored before version 8 (the stance step then reads the passage text alone).
ALTER TABLE passages ADD COLUMN context VARCHAR;
