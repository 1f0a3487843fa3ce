/** A link's description without the board id it starts with, for places that show the board already. */
export function linkDetail(link: string, board: string): string {
  return board !== '' && link.startsWith(board) ? link.slice(board.length).trim() : link;
}
