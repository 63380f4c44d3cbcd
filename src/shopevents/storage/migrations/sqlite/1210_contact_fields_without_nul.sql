-- Contact fields lose their NUL characters, as every text written since is stored (see the
-- PostgreSQL migration of the same number, where a NUL made the field filter fail). An escaped
-- backslash followed by the letters u0000 (`\\u0000`) is text, not a NUL, and is kept: escaped
-- backslashes are set aside first as the character U+0001 (which JSON text never holds
-- unescaped), then put back.
UPDATE contacts
   SET fields = replace(replace(replace(fields, '\\', char(1)), '\u0000', ''), char(1), '\\')
 WHERE instr(fields, '\u0000') > 0
