// Ranking widget: replies are reordered by drag and drop or by keyboard (focus a handle, Space to
// pick it up, arrow keys to move, Space to drop), best on top. Ties only where the project
// allows them; "not rankable" with an optional report. The order goes to the form as JSON.
import {
  closestCenter,
  DndContext,
  KeyboardSensor,
  PointerSensor,
  useSensor,
  useSensors,
  type DragEndEvent,
} from "@dnd-kit/core";
import { arrayMove, SortableContext, sortableKeyboardCoordinates, useSortable, verticalListSortingStrategy } from "@dnd-kit/sortable";
import { CSS } from "@dnd-kit/utilities";
import { useState } from "react";
import { MessageBubble, type ShownMessage } from "./conversation.tsx";

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

function SortableReply({
  item,
  index,
  count,
  rank,
  tiesAllowed,
  onMove,
  onTie,
}: {
  item: Item;
  index: number;
  count: number;
  rank: number;
  tiesAllowed: boolean;
  onMove: (from: number, to: number) => void;
  onTie: (tied: boolean) => void;
}) {
  const { attributes, listeners, setNodeRef, setActivatorNodeRef, transform, transition, isDragging } = useSortable({ id: item.message.id });
  return (
    <li
      ref={setNodeRef}
      style={{ transform: CSS.Transform.toString(transform), transition }}
      className={`rank-item${isDragging ? " dragging" : ""}`}
      data-testid="rank-item"
      data-message-id={item.message.id}
    >
      <div className="rank-controls">
        <span className="rank-place" aria-hidden>{place(rank)}</span>
        <button
          type="button"
          ref={setActivatorNodeRef}
          className="drag-handle"
          aria-label={`Reply ${item.letter}, ranked ${place(rank)}. Press Space to pick it up, arrow keys to move, Space to drop.`}
          {...attributes}
          {...listeners}
        >
          ⠿ {item.letter}
        </button>
        <button type="button" className="link-button" onClick={() => onMove(index, index - 1)} disabled={index === 0} aria-label={`Move reply ${item.letter} up`}>
          ↑
        </button>
        <button type="button" className="link-button" onClick={() => onMove(index, index + 1)} disabled={index === count - 1} aria-label={`Move reply ${item.letter} down`}>
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

export function RankingBoard({ replies, tiesAllowed }: { replies: ShownMessage[]; tiesAllowed: boolean }) {
  const [items, setItems] = useState<Item[]>(() =>
    replies.map((message, i) => ({ message, letter: String.fromCharCode(65 + i), tied: false })),
  );
  const [notRankable, setNotRankable] = useState(false);
  const sensors = useSensors(
    useSensor(PointerSensor, { activationConstraint: { distance: 4 } }),
    useSensor(KeyboardSensor, { coordinateGetter: sortableKeyboardCoordinates }),
  );
  const move = (from: number, to: number) => {
    if (to < 0 || to >= items.length) return;
    setItems((list) => arrayMove(list, from, to).map((it, i) => (i === 0 ? { ...it, tied: false } : it)));
  };
  const onDragEnd = (e: DragEndEvent) => {
    if (!e.over || e.active.id === e.over.id) return;
    const from = items.findIndex((it) => it.message.id === e.active.id);
    const to = items.findIndex((it) => it.message.id === e.over!.id);
    move(from, to);
  };
  const groups = groupsOf(items.map((it) => ({ id: it.message.id, tied: tiesAllowed && it.tied })));
  const rankOf = new Map<string, number>();
  let ahead = 0;
  for (const g of groups) {
    for (const id of g) rankOf.set(id, ahead + 1);
    ahead += g.length;
  }

  return (
    <div className="ranking">
      <p className="muted">Best reply on top. Drag a reply, or focus its handle and use Space and the arrow keys.</p>
      <input type="hidden" name="order" value={JSON.stringify(groups)} />
      <fieldset disabled={notRankable} className="plain">
        <DndContext id="ranking" sensors={sensors} collisionDetection={closestCenter} onDragEnd={onDragEnd}>
          <SortableContext items={items.map((it) => it.message.id)} strategy={verticalListSortingStrategy}>
            <ol className="rank-list" aria-label="Replies, best first">
              {items.map((item, i) => (
                <SortableReply
                  key={item.message.id}
                  item={item}
                  index={i}
                  count={items.length}
                  rank={rankOf.get(item.message.id)!}
                  tiesAllowed={tiesAllowed}
                  onMove={move}
                  onTie={(tied) => setItems((list) => list.map((it, j) => (j === i ? { ...it, tied } : it)))}
                />
              ))}
            </ol>
          </SortableContext>
        </DndContext>
      </fieldset>
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
