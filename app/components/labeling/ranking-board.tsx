// Ranking widget: replies are reordered by drag and drop (mouse or touch, on the handle), by
// keyboard (focus a handle, Space to pick it up, arrow keys to move one place per press, Space to
// drop, Escape to cancel) or with the ↑/↓ buttons, best on top. Ties only where the project
// allows them; "not rankable" with an optional report. The order goes to the form as JSON.
import {
  DndContext,
  DragOverlay,
  KeyboardSensor,
  PointerSensor,
  useSensor,
  useSensors,
  type Announcements,
  type DragEndEvent,
  type DragOverEvent,
  type DragStartEvent,
  type KeyboardSensorOptions,
  type PointerSensorOptions,
  type ScreenReaderInstructions,
  type UniqueIdentifier,
} from "@dnd-kit/core";
import { arrayMove, SortableContext, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { useEffect, useMemo, useRef, useState } from "react";
import { MessageBubble, type ShownMessage } from "./conversation.tsx";
import { SafeMarkdown } from "./markdown.tsx";
import { nearestPlaceCollision, placeKeyboardCoordinates } from "./ranking-geometry.ts";

interface Item {
  message: ShownMessage;
  /** Letter given in the order first shown, so a labeler can refer to a reply. */
  letter: string;
  /** Tied with the item above (only where ties are allowed). */
  tied: boolean;
}

/** Groups best first: an item tied with the one above joins its group. */
export function groupsOf(items: ReadonlyArray<{ id: string; tied: boolean }>): string[][] {
  const groups: string[][] = [];
  items.forEach((item, i) => {
    if (i > 0 && item.tied) groups[groups.length - 1].push(item.id);
    else groups.push([item.id]);
  });
  return groups;
}

const place = (n: number) => `${n}${n === 1 ? "st" : n === 2 ? "nd" : n === 3 ? "rd" : "th"}`;

const POINTER: PointerSensorOptions = { activationConstraint: { distance: 4 } };
// Instant scrolling: with smooth scrolling a second key press, or the drop, came while the page
// was still moving and landed on the place the scroll had reached so far.
const KEYBOARD: KeyboardSensorOptions = { coordinateGetter: placeKeyboardCoordinates, scrollBehavior: "auto" };

const SCREEN_READER_INSTRUCTIONS: ScreenReaderInstructions = {
  draggable:
    "To move this reply, press Space to pick it up. Each press of the up or down arrow key moves it one place. " +
    "Press Space again to drop it there, or Escape to put it back.",
};

function SortableReply({
  item,
  index,
  count,
  rank,
  disabled,
  tiesAllowed,
  onMove,
  onTie,
}: {
  item: Item;
  index: number;
  count: number;
  rank: number;
  disabled: boolean;
  tiesAllowed: boolean;
  onMove: (from: number, to: number, focus: "up" | "down") => void;
  onTie: (tied: boolean) => void;
}) {
  const { attributes, listeners, setNodeRef, setActivatorNodeRef, transform, transition, isDragging } = useSortable({
    id: item.message.id,
    disabled,
  });
  return (
    <li
      ref={setNodeRef}
      style={{ transform: CSS.Translate.toString(transform), transition }}
      className={`rank-item${isDragging ? " placeholder" : ""}`}
      data-testid="rank-item"
      data-message-id={item.message.id}
    >
      <div className="rank-controls">
        <span className="rank-place" aria-hidden>{place(rank)}</span>
        <button
          type="button"
          ref={setActivatorNodeRef}
          className="drag-handle"
          aria-label={`Reply ${item.letter}, ranked ${place(rank)} of ${count}`}
          {...attributes}
          {...listeners}
        >
          ⠿ {item.letter}
        </button>
        <button type="button" className="link-button" data-move="up" onClick={() => onMove(index, index - 1, "up")} disabled={index === 0} aria-label={`Move reply ${item.letter} up`}>
          ↑
        </button>
        <button type="button" className="link-button" data-move="down" onClick={() => onMove(index, index + 1, "down")} disabled={index === count - 1} aria-label={`Move reply ${item.letter} down`}>
          ↓
        </button>
        {tiesAllowed && index > 0 && (
          <label className="inline small">
            <input type="checkbox" checked={item.tied} onChange={(e) => onTie(e.target.checked)} /> tie with the one above
          </label>
        )}
      </div>
      <MessageBubble message={item.message} label={`Reply ${item.letter}`} />
    </li>
  );
}

/** What follows the pointer or the keys while a reply moves: a few lines, so a long reply hides nothing. */
function DraggedReply({ item, rank }: { item: Item; rank: number }) {
  return (
    <div className="rank-item dragged" aria-hidden data-testid="rank-dragged">
      <div className="rank-controls">
        <span className="rank-place">{place(rank)}</span>
        <span className="drag-handle">⠿ {item.letter}</span>
      </div>
      <article className={`bubble ${item.message.role}`}>
        <header className="bubble-head">
          <strong>Reply {item.letter}</strong>
        </header>
        <div className="rank-preview">
          <SafeMarkdown text={item.message.text} />
        </div>
      </article>
    </div>
  );
}

export function RankingBoard({ replies, tiesAllowed }: { replies: ShownMessage[]; tiesAllowed: boolean }) {
  const [items, setItems] = useState<Item[]>(() =>
    replies.map((message, i) => ({ message, letter: String.fromCharCode(65 + i), tied: false })),
  );
  const [notRankable, setNotRankable] = useState(false);
  const [activeId, setActiveId] = useState<UniqueIdentifier | null>(null);
  const [overId, setOverId] = useState<UniqueIdentifier | null>(null);
  /** Said after a ↑/↓ button moved a reply (drags speak through dnd-kit's own live region). */
  const [buttonMove, setButtonMove] = useState("");
  const listRef = useRef<HTMLOListElement>(null);
  /** The ↑/↓ button to focus again once its reply has moved (React re-inserts the moved item). */
  const refocus = useRef<{ id: string; button: "up" | "down" } | null>(null);
  /** Where the last announcement left the dragged reply, so the start is not said twice. */
  const announcedOver = useRef<UniqueIdentifier | null>(null);
  const sensors = useSensors(useSensor(PointerSensor, POINTER), useSensor(KeyboardSensor, KEYBOARD));

  const indexOf = (id: UniqueIdentifier) => items.findIndex((it) => it.message.id === id);
  const move = (from: number, to: number, focus?: "up" | "down") => {
    if (from < 0 || to < 0 || to >= items.length || from === to) return;
    if (focus) {
      refocus.current = { id: items[from].message.id, button: focus };
      setButtonMove(`Reply ${items[from].letter} moved to position ${to + 1} of ${items.length}.`);
    }
    setItems((list) => arrayMove(list, from, to).map((it, i) => (i === 0 ? { ...it, tied: false } : it)));
  };

  useEffect(() => {
    const target = refocus.current;
    if (!target) return;
    refocus.current = null;
    const row = listRef.current?.querySelector(`[data-message-id="${target.id}"]`);
    const button = row?.querySelector<HTMLButtonElement>(`button[data-move="${target.button}"]`);
    (button && !button.disabled ? button : row?.querySelector<HTMLButtonElement>(".drag-handle"))?.focus();
  }, [items]);

  const announcements = useMemo<Announcements>(() => {
    const n = items.length;
    const name = (id: UniqueIdentifier) => `Reply ${items.find((it) => it.message.id === id)?.letter ?? "?"}`;
    const at = (id: UniqueIdentifier) => `position ${items.findIndex((it) => it.message.id === id) + 1} of ${n}`;
    return {
      onDragStart: ({ active }) => {
        announcedOver.current = active.id;
        return `Picked up ${name(active.id)}, in ${at(active.id)}.`;
      },
      onDragOver: ({ active, over }) => {
        if ((over?.id ?? null) === announcedOver.current) return undefined;
        announcedOver.current = over?.id ?? null;
        return over ? `${name(active.id)} is in ${at(over.id)}.` : `${name(active.id)} is outside the list.`;
      },
      onDragEnd: ({ active, over }) => {
        if (!over) return `${name(active.id)} was dropped outside the list and stays in ${at(active.id)}.`;
        return over.id === active.id ? `${name(active.id)} was dropped back in ${at(active.id)}.` : `${name(active.id)} was dropped in ${at(over.id)}.`;
      },
      onDragCancel: ({ active }) => `Moving ${name(active.id)} was cancelled; it stays in ${at(active.id)}.`,
    };
  }, [items]);

  const onDragStart = (e: DragStartEvent) => {
    setActiveId(e.active.id);
    setOverId(e.active.id);
  };
  const onDragOver = (e: DragOverEvent) => setOverId(e.over?.id ?? null);
  const onDragEnd = (e: DragEndEvent) => {
    setActiveId(null);
    if (e.over) move(indexOf(e.active.id), indexOf(e.over.id));
  };
  const onDragCancel = () => setActiveId(null);

  const groups = groupsOf(items.map((it) => ({ id: it.message.id, tied: tiesAllowed && it.tied })));
  // While a reply is dragged the places read as if it were dropped where it is now.
  const dragFrom = activeId === null ? -1 : indexOf(activeId);
  const dragTo = overId === null ? dragFrom : indexOf(overId);
  const shown = dragFrom < 0 || dragTo < 0 ? items : arrayMove(items, dragFrom, dragTo);
  const rankOf = new Map<string, number>();
  let ahead = 0;
  for (const g of groupsOf(shown.map((it, i) => ({ id: it.message.id, tied: tiesAllowed && i > 0 && it.tied })))) {
    for (const id of g) rankOf.set(id, ahead + 1);
    ahead += g.length;
  }
  const dragged = dragFrom < 0 ? null : items[dragFrom];

  return (
    <div className="ranking">
      <p className="muted">Best reply on top. Drag a reply by its handle, or focus the handle and use Space and the arrow keys.</p>
      <input type="hidden" name="order" value={JSON.stringify(groups)} />
      <fieldset disabled={notRankable} className="plain">
        <DndContext
          id="ranking"
          sensors={sensors}
          collisionDetection={nearestPlaceCollision}
          accessibility={{ announcements, screenReaderInstructions: SCREEN_READER_INSTRUCTIONS }}
          onDragStart={onDragStart}
          onDragOver={onDragOver}
          onDragEnd={onDragEnd}
          onDragCancel={onDragCancel}
        >
          <SortableContext items={items.map((it) => it.message.id)} strategy={verticalListSortingStrategy}>
            <ol className="rank-list" aria-label="Replies, best first" ref={listRef}>
              {items.map((item, i) => (
                <SortableReply
                  key={item.message.id}
                  item={item}
                  index={i}
                  count={items.length}
                  rank={rankOf.get(item.message.id)!}
                  disabled={notRankable}
                  tiesAllowed={tiesAllowed}
                  onMove={move}
                  onTie={(tied) => setItems((list) => list.map((it, j) => (j === i ? { ...it, tied } : it)))}
                />
              ))}
            </ol>
          </SortableContext>
          {/* Its own height, not the dragged reply's: a reply taller than the window would cover the list. */}
          <DragOverlay style={{ height: "auto" }}>
            {dragged ? <DraggedReply item={dragged} rank={rankOf.get(dragged.message.id)!} /> : null}
          </DragOverlay>
        </DndContext>
      </fieldset>
      <p className="sr-only" role="status">{buttonMove}</p>
      <div className="card inset">
        <label className="inline">
          <input type="checkbox" name="notRankable" value="true" checked={notRankable} onChange={(e) => setNotRankable(e.target.checked)} /> Not
          rankable: all of these replies are bad
        </label>
        {notRankable && (
          <textarea name="report" maxLength={2000} rows={3} placeholder="Optional: tell the moderators what is wrong" aria-label="Report" />
        )}
      </div>
    </div>
  );
}
