//! 简体中文 (Simplified Chinese).

use crate::protocol::{
    ErrorCode, MAX_CLIENT_ID_LEN, MAX_NAME_CHARS, MAX_PASSWORD_CHARS, MAX_ROOM_NAME_LEN,
    MAX_TEXT_CHARS, MIN_PASSWORD_CHARS,
};

use super::{Burst, Catalogue, Problem};

pub static ZH_CN: Catalogue = Catalogue {
    noscript_hint: "实时更新需要 JavaScript；此页显示最近的消息。",
    page_not_found: "找不到此页面。",
    tab_title: |mentions| match mentions {
        0 => "Huddle".to_owned(),
        n => format!("(@{n}) Huddle"),
    },
    room_not_loaded: |why| format!("无法加载此聊天室：{why}"),
    page_without_room: "页面缺少聊天室的数据，请重新加载",
    language: "语言",

    direct_message: "私信",
    leave_room: "离开聊天室",
    log_in_to_chat: "登录后即可聊天。",
    messages: "消息列表",
    load_older: "加载更早的消息",
    could_not_load_older: |err| format!("无法加载更早的消息：{err}"),
    you: "（你）",
    stored_by_the_server: "服务器已保存",
    sent: "✓ 已发送",
    sending: "发送中…",
    utc_time: |clock| format!("{clock} UTC"),

    message: "消息",
    write_a_message: "输入消息",
    send: "发送",
    not_sent: |code| format!("未发送：{}", refusal(code)),

    connecting: "正在连接…",
    connected: "已连接",
    disconnecting: "正在断开…",
    disconnected: "已断开",
    reconnecting: "已断开 — 正在重新连接…",
    reconnecting_in: |secs| format!("已断开 — {secs} 秒后重新连接"),
    waiting_to_send: |n| format!("{n} 条消息等待发送"),
    bytes_buffered: |bytes| format!("已缓冲 {bytes} 字节"),
    round_trip_time: "往返时间",
    retry_now: "立即重试",
    connect: "连接",
    disconnect: "断开连接",
    not_connected: "未连接：连接恢复后请重试。",
    could_not_reload_history: |err| format!("无法重新加载历史消息：{err}"),
    server_closed: |code, reason| match reason {
        "" => format!("服务器关闭了连接（{code}）；按“连接”重试。"),
        reason => format!("服务器关闭了连接（{code}：{reason}）；按“连接”重试。"),
    },
    error_frame: |code, _| refusal(code),

    account: "账户",
    signed_in_as: |name| format!("已登录：{name}"),
    guest: |name| format!("{name}（访客）"),
    not_signed_in: "未登录",
    log_out: "退出登录",
    log_in_or_register: "登录或注册",
    log_in: "登录",
    register: "注册",
    login_name: "登录用户名",
    login_password: "登录密码",
    register_name: "注册用户名",
    register_password: "注册密码",
    pick_a_name: "选择一个显示名称即可聊天：",
    display_name: "显示名称",
    join_chat: "加入聊天",

    notices: "通知",
    dismiss_notice: "关闭通知",
    online: "在线",
    message_person: |name| format!("给 {name} 发私信"),
    message_button: "私信",
    rooms: "聊天室",
    room_name_rule: "聊天室名称为 1 到 64 个 a-z、0-9、- 或 _ 字符（不能以 dm- 开头）。",
    open_a_room: "打开聊天室：",
    room_name: "聊天室名称",
    open: "打开",
    unread: |n| format!("{n} 条未读"),
    mentions_of_you: |n| format!("{n} 次提到你"),
    typing: |names| match names {
        [] => String::new(),
        [one] => format!("{one} 正在输入…"),
        [one, two] => format!("{one} 和 {two} 正在输入…"),
        [one, two, ..] => format!("{one}、{two} 等人正在输入…"),
    },
    joined: |name| format!("{name} 加入了"),
    left: |name| format!("{name} 离开了"),

    problem,
};

fn problem(problem: &Problem) -> String {
    match problem {
        Problem::InvalidName => {
            format!("显示名称须为 1 到 {MAX_NAME_CHARS} 个字符，且不含控制字符")
        }
        Problem::InvalidPassword => {
            format!("密码须为 {MIN_PASSWORD_CHARS} 到 {MAX_PASSWORD_CHARS} 个字符")
        }
        Problem::NameTaken(name) => format!("名称“{name}”已被占用"),
        Problem::WrongCredentials => "用户名或密码错误".to_owned(),
        Problem::GuestsNotAllowed => "此服务器不允许访客；请登录".to_owned(),
        Problem::AccountsNotAllowed => "此服务器未启用账户".to_owned(),
        Problem::NameBelongsToAccount(name) => {
            format!("名称“{name}”属于一个账户；请登录后使用")
        }
        Problem::TooManyLoginAttempts { minutes } => {
            format!("此名称登录失败次数过多；请在 {minutes} 分钟后重试")
        }
        Problem::TooFast { what, seconds } => {
            let what = match what {
                Burst::NewGuests => "来自你的地址的新访客过多",
                Burst::Registrations => "来自你的地址的注册过多",
                Burst::Logins => "来自你的地址的登录过多",
                Burst::NewRooms => "新建房间过多",
            };
            format!("{what}；请在 {seconds} 秒后重试")
        }
        Problem::PickNameFirst => "发言前请先选择一个显示名称。".to_owned(),
        Problem::NotStored => "消息未保存（服务器无法连接数据库）；请重新发送。".to_owned(),
        Problem::RoomUnreadable => "服务器无法读取此聊天室；请重试。".to_owned(),
        Problem::NotARoom(name) => format!("“{name}”不是聊天室名称"),
        Problem::LogInToRead => "登录后才能阅读此聊天室。".to_owned(),
        Problem::PrivateRoom(name) => format!("聊天室“{name}”是私密的：只有其成员可以查看。"),
        Problem::RoomIsPrivate(name) => format!("聊天室“{name}”是私密的"),
        Problem::BadRoomName(name) => format!(
            "聊天室名称为 1 到 {MAX_ROOM_NAME_LEN} 个 a-z、0-9、- 或 _ 字符（不能以 dm- \
             开头）；“{name}”不符合。请返回换一个。"
        ),
        Problem::Refused(code) => refusal(*code),
    }
}

/// A refused frame or post, in words a person reads (the protocol's own are English).
fn refusal(code: ErrorCode) -> String {
    match code {
        ErrorCode::EmptyText => "消息为空".to_owned(),
        ErrorCode::TextTooLong => format!("消息超过 {MAX_TEXT_CHARS} 个字符"),
        ErrorCode::InvalidRoom => {
            format!("聊天室名称为 1 到 {MAX_ROOM_NAME_LEN} 个 a-z、0-9、- 或 _ 字符")
        }
        ErrorCode::NulInText => "消息含有 U+0000（NUL），任何消息都不能含有它".to_owned(),
        ErrorCode::InvalidClientId => {
            format!("client_id 须为 1 到 {MAX_CLIENT_ID_LEN} 字节，且不含 U+0000（NUL）")
        }
        ErrorCode::BinaryNotSupported => "不支持二进制帧；请发送 JSON 文本帧".to_owned(),
        ErrorCode::RateLimited => "发送太快；请稍后再试".to_owned(),
        ErrorCode::Forbidden => "你不能在此聊天室这样做".to_owned(),
        ErrorCode::UnknownRoom => "没有这个聊天室，或你尚未加入".to_owned(),
        ErrorCode::UnknownUser => "没有这个用户".to_owned(),
        ErrorCode::TooManyRooms => "你加入的聊天室已达上限；请先离开一个".to_owned(),
        ErrorCode::ServerBusy => "服务器上使用中的聊天室已达上限；请稍后再试".to_owned(),
        ErrorCode::StoreUnavailable => "消息未能保存；请重试".to_owned(),
        other => format!("服务器无法处理此请求（{other:?}）"),
    }
}
