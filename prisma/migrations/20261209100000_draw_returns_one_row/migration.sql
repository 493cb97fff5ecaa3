-- draw_task answers one row. Declared as the default thousand, a statement that reads the drawn
-- task's conversation beside the call (the JSON API's draw) was costed above jit_above_cost, and
-- every draw spent ~0.35 s compiling itself.
ALTER FUNCTION draw_task(uuid, uuid, text, text, boolean, float8[], integer[], integer[], integer[], text[], integer, uuid, uuid, float8[]) ROWS 1;
