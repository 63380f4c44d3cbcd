-- Contact fields lose their NUL characters, as every text written since is stored: a field
-- holding one (`\u0000` in the JSON text) cannot be read as jsonb, which made the contact
-- listing's field filter fail for the whole store. An escaped backslash followed by the
-- letters u0000 (`\\u0000`) is text, not a NUL, and is kept: escaped backslashes are set
-- aside first as the character U+0001 (which JSON text never holds unescaped), then put back.
UPDATE contacts
   SET fields = replace(replace(replace(fields, '\\', chr(1)), '\u0000', ''), chr(1), '\\')
 WHERE strpos(fields, '\u0000') > 0
